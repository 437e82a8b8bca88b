package rapids_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/watershed-grid/watershed/rapids"
)

func partitions(n int) []int {
	ps := make([]int, n)
	for i := range ps {
		ps[i] = i
	}
	return ps
}

// javaMurmur2 are Apache Kafka's own test vectors for its murmur2
// (org.apache.kafka.common.utils.UtilsTest.testMurmur2), as the Java
// client's int values.
var javaMurmur2 = []struct {
	key  string
	hash int32
}{
	{"21", -973932308},
	{"foobar", -790332482},
	{"a-little-bit-long-string", -985981536},
	{"a-little-bit-longer-string", -1486304829},
	{"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971},
	{"abc", 479470107},
}

// TestBalancerMatchesJavaPartitioner checks the producer's partitioner
// against the Java client's: partition = toPositive(murmur2(key)) % n, with
// toPositive(h) = h & 0x7fffffff.
func TestBalancerMatchesJavaPartitioner(t *testing.T) {
	b := rapids.JavaCompatibleBalancer()
	for _, v := range javaMurmur2 {
		for _, n := range []int{1, 3, 6, 7, 100, 997} {
			want := int(uint32(v.hash)&0x7fffffff) % n
			if got := b.Balance(kafka.Message{Key: []byte(v.key)}, partitions(n)...); got != want {
				t.Errorf("key %q over %d partitions: partition %d, Java chooses %d", v.key, n, got, want)
			}
		}
	}
	// A worked case: toPositive(-790332482) = 1357151166, and
	// 1357151166 % 50 = 16.
	if got := b.Balance(kafka.Message{Key: []byte("foobar")}, partitions(50)...); got != 16 {
		t.Errorf(`"foobar" over 50 partitions: %d, want 16`, got)
	}
}

// TestBalancerMatchesFranzGo cross-checks many random keys against franz-go's
// StickyKeyPartitioner, an independent implementation documented to
// partition exactly as Kafka's Java client does.
func TestBalancerMatchesFranzGo(t *testing.T) {
	b := rapids.JavaCompatibleBalancer()
	ref := kgo.StickyKeyPartitioner(nil).ForTopic("rapids")
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 20000 {
		key := make([]byte, rng.IntN(40))
		for j := range key {
			key[j] = byte(rng.UintN(256))
		}
		if i%2 == 0 {
			key = fmt.Appendf(nil, "meter-%07d", rng.IntN(10_000_000))
		}
		n := 1 + rng.IntN(64)
		want := ref.Partition(&kgo.Record{Key: key}, n)
		if got := b.Balance(kafka.Message{Key: key}, partitions(n)...); got != want {
			t.Fatalf("key %q over %d partitions: %d, franz-go (Java-compatible) chooses %d", key, n, got, want)
		}
	}
}

// TestBalancerSpreadsRecordsWithoutKey: a null key is not hashed (that
// would put every keyless record on one partition) but spread.
func TestBalancerSpreadsRecordsWithoutKey(t *testing.T) {
	b := rapids.JavaCompatibleBalancer()
	used := make(map[int]bool)
	for range 1000 {
		used[b.Balance(kafka.Message{Key: nil}, partitions(6)...)] = true
	}
	if len(used) != 6 {
		t.Errorf("1000 records without key used %d of 6 partitions", len(used))
	}
	// An empty but present key is hashed like any other, as in Java.
	first := b.Balance(kafka.Message{Key: []byte{}}, partitions(6)...)
	for range 100 {
		if p := b.Balance(kafka.Message{Key: []byte{}}, partitions(6)...); p != first {
			t.Fatalf("empty key went to partitions %d and %d", first, p)
		}
	}
}
