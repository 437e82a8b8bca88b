package chaos

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	kafkago "github.com/segmentio/kafka-go"
	"github.com/watershed-grid/watershed/contracts"
	"github.com/watershed-grid/watershed/contracts/events"
	"github.com/watershed-grid/watershed/ponds/archive"
	"github.com/watershed-grid/watershed/ponds/hot"
	"github.com/watershed-grid/watershed/rapids"
	"github.com/watershed-grid/watershed/rivers/deadletter"
	"github.com/watershed-grid/watershed/rivers/riverstest"
	"gocloud.dev/blob"
)

// TestChaosBooks runs the pipeline's stateful stage — raw-archiver (the
// rapids into Parquet on the S3 store), usage-aggregator (hourly usage on
// the rivers) and hot-pond (latest state in Redis) — as processes on a
// Kafka broker and a Redis of the suite's own, publishes a seeded fleet's
// readings with a few malformed records among them, and meanwhile kills
// the services, the broker and Redis with SIGKILL at seeded random
// moments, starting each again. Then it checks the books:
//
//   - every reading the broker acknowledged is in the Parquet pond, and no
//     record (partition, offset) is there twice;
//   - every hour of every meter has its usage.interval.v1, and the latest
//     one per (meter, hour) has the exact energy;
//   - the hot pond's latest reading of every meter is its last one;
//   - every malformed record has a dead letter from each of the three
//     services in rapids.dlq, naming its origin (topic, partition, offset).
//
// The figures (kills survived, events checked, lost, duplicated) are
// printed at the end. Short form in make test (200 meters, 10 grid hours,
// about a minute of publishing, 6 kills); WATERSHED_CHAOS_LONG=1 runs the
// long form (1,000 meters, 26 grid hours, 8 minutes, 25 kills).
// WATERSHED_CHAOS_SEED picks the seed (default 1): the kills' targets,
// moments and downtimes, and where the malformed records go.
func TestChaosBooks(t *testing.T) {
	if testing.Short() {
		t.Skip("kills servers for minutes: skipped with -short")
	}
	cpFile := riverstest.RequireServer(t, "WATERSHED_TEST_KAFKA_CLASSPATH_FILE", "Kafka classpath (the suite runs a broker of its own)")
	redisBin := riverstest.RequireServer(t, "WATERSHED_TEST_REDIS_SERVER", "redis-server binary")
	s3 := riverstest.RequireServer(t, "WATERSHED_TEST_S3", "S3-compatible store")
	sc := shortScenario
	if os.Getenv("WATERSHED_CHAOS_LONG") != "" {
		sc = longScenario
	}
	sc.seed = 1
	if v := os.Getenv("WATERSHED_CHAOS_SEED"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("WATERSHED_CHAOS_SEED=%q: want a number", v)
		}
		sc.seed = n
	}
	rng := rand.New(rand.NewPCG(sc.seed, 0x5eed))
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..", "..")
	bin := t.TempDir()
	var bins sync.Map
	var wg sync.WaitGroup
	for _, name := range []string{"raw-archiver", "usage-aggregator", "hot-pond"} {
		wg.Go(func() { bins.Store(name, buildService(t, root, name, bin)) })
	}
	k := startKafka(t, cpFile)
	rd := startRedis(t, redisBin)
	wg.Wait()
	kcfg := rapids.Config{Brokers: []string{k.addr}}.WithDefaults()
	ctx := context.Background()
	if err := rapids.EnsureTopics(ctx, kcfg); err != nil {
		t.Fatal(err)
	}

	// The pond: a prefix of its own in the test bucket.
	q := url.Values{}
	q.Set("endpoint", s3)
	q.Set("region", cmpOr(os.Getenv("WATERSHED_TEST_S3_REGION"), "us-east-1"))
	q.Set("use_path_style", "true")
	q.Set("prefix", "chaos-"+contracts.NewID()[:8]+"/")
	pondURL := "s3://" + riverstest.RequireServer(t, "WATERSHED_TEST_S3_BUCKET", "S3 bucket") + "?" + q.Encode()
	awsEnv := []string{"AWS_ACCESS_KEY_ID=" + os.Getenv("WATERSHED_TEST_S3_ACCESS_KEY"),
		"AWS_SECRET_ACCESS_KEY=" + os.Getenv("WATERSHED_TEST_S3_SECRET_KEY"), "AWS_SESSION_TOKEN="}
	for _, kv := range awsEnv {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	bucket, err := archive.OpenBucket(ctx, pondURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = bucket.Close() })

	logs := t.TempDir()
	common := []string{"KAFKA_BROKERS=" + k.addr, "LOG_LEVEL=warn", "HEARTBEAT_INTERVAL=2s"}
	svc := func(name string, env ...string) *process {
		b, _ := bins.Load(name)
		p := &process{name: name, args: []string{b.(string)}, dir: logs, log: filepath.Join(logs, name+".log"),
			env: append(append(slices.Clone(common), "HTTP_ADDR="+fmt.Sprintf("127.0.0.1:%d", freePort(t))), env...)}
		p.start(t)
		t.Cleanup(p.kill)
		return p
	}
	services := map[string]*process{
		"raw-archiver":     svc("raw-archiver", append([]string{"PONDS_URL=" + pondURL, "ARCHIVE_FLUSH_AGE=2s"}, awsEnv...)...),
		"usage-aggregator": svc("usage-aggregator"),
		"hot-pond":         svc("hot-pond", "REDIS_URL="+rd.url),
	}

	// The kills, on their own goroutine while the readings are published.
	targets := []string{"raw-archiver", "usage-aggregator", "hot-pond", "kafka", "redis"}
	type kill struct {
		at       time.Duration
		target   string
		downtime time.Duration
	}
	var plan []kill
	for i := range sc.kills {
		tg := targets[i%len(targets)]
		if i >= len(targets) {
			tg = targets[rng.IntN(len(targets))]
		}
		plan = append(plan, kill{at: time.Duration(rng.Int64N(int64(sc.publishFor * 9 / 10))), target: tg,
			downtime: 500*time.Millisecond + time.Duration(rng.Int64N(int64(3*time.Second)))})
	}
	slices.SortFunc(plan, func(a, b kill) int { return int(a.at - b.at) })
	survived := map[string]int{}
	begun := time.Now()
	killsDone := make(chan struct{})
	go func() {
		defer close(killsDone)
		for _, kl := range plan {
			time.Sleep(time.Until(begun.Add(kl.at)))
			switch kl.target {
			case "kafka":
				k.kill()
				time.Sleep(kl.downtime)
				k.up(t)
			case "redis":
				rd.kill()
				time.Sleep(kl.downtime)
				rd.up(t)
			default:
				p := services[kl.target]
				p.kill()
				time.Sleep(kl.downtime)
				p.start(t)
			}
			survived[kl.target]++
			t.Logf("chaos: SIGKILL %s at %s, down %s, started again", kl.target, kl.at.Round(time.Millisecond), kl.downtime.Round(time.Millisecond))
		}
	}()

	// The readings: slot k of meter i is read at t0 + k×15 min; every slot
	// of every meter is published in slot order, keyed by transformer.
	pub := publish(t, rng, k.addr, kcfg.Topics.Rapids, sc)
	<-killsDone
	for name, p := range services {
		if !p.running() {
			t.Fatalf("%s is not running after the chaos:\n%s", name, p.tail())
		}
	}
	t.Logf("chaos: published %d readings and %d malformed records in %s (%d batches retried)",
		len(pub.acked), pub.bad, time.Since(begun).Round(time.Second), pub.retried)

	// The books, once the services have caught up.
	var b books
	deadline := time.Now().Add(sc.settle)
	for {
		b = check(t, ctx, sc, kcfg, bucket, rd.url, pub)
		if b.balanced() || time.Now().After(deadline) {
			break
		}
		time.Sleep(3 * time.Second)
	}
	t.Logf("chaos: seed %d; kills survived %v; readings checked %d, lost from the pond %d, records archived twice %d; usage windows checked %d, missing %d, wrong %d; hot pond meters checked %d, wrong %d; malformed records %d, letters %d, missing letters %d",
		sc.seed, survived, b.readings, b.lost, b.duplicated, b.windows, b.missingWindows, b.wrongWindows, b.meters, b.wrongLatest, b.badRecords, b.letters, b.missingLetters)
	if !b.balanced() {
		for name, p := range services {
			t.Logf("%s log tail:\n%s", name, p.tail())
		}
		t.Fatalf("the books do not balance after %s: %s", sc.settle, b.problem)
	}
}

// scenario sizes a run.
type scenario struct {
	meters     int
	hours      int           // booked hours; two more are published so the last closes
	publishFor time.Duration // spread of the publishing
	kills      int
	bad        int           // malformed records
	settle     time.Duration // how long the books may take to balance
	seed       uint64
}

var (
	shortScenario = scenario{meters: 200, hours: 10, publishFor: 60 * time.Second, kills: 6, bad: 6, settle: 3 * time.Minute}
	longScenario  = scenario{meters: 1000, hours: 26, publishFor: 8 * time.Minute, kills: 25, bad: 25, settle: 6 * time.Minute}
)

// t0 is the first read time.
var t0 = time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)

func meterID(i int) string { return fmt.Sprintf("MTR-%05d", i) }

// wh is the energy of meter i's slot k (the interval ending at slot k), in
// Wh: a deterministic function, so the truth is known.
func wh(i, k int) int64 { return 50 + int64((i*37+k*11)%300) }

// register is meter i's register at slot k, in Wh.
func register(i, k int) int64 {
	r := int64(1_000_000 + i*1000)
	for j := 1; j <= k; j++ {
		r += wh(i, j)
	}
	return r
}

// published is what the publisher got acknowledged.
type published struct {
	acked   map[string]bool // reading ids
	bad     int
	retried int
	slots   int
}

// publish writes every slot of every meter (and sc.bad malformed records at
// seeded slots) to the rapids, one batch per slot, retrying a batch until
// the broker acknowledges it — through broker kills.
func publish(t *testing.T, rng *rand.Rand, addr, topic string, sc scenario) published {
	t.Helper()
	w := &kafkago.Writer{Addr: kafkago.TCP(addr), Topic: topic, Balancer: &kafkago.Hash{},
		RequiredAcks: kafkago.RequireAll, MaxAttempts: 2, WriteTimeout: 5 * time.Second, ReadTimeout: 5 * time.Second,
		BatchSize: 1000, BatchTimeout: time.Millisecond, Compression: kafkago.Lz4}
	defer w.Close()
	slots := (sc.hours+2)*4 + 1
	badAt := map[int]int{}
	for n := range sc.bad {
		badAt[1+rng.IntN(slots-1)]++
		_ = n
	}
	pub := published{acked: map[string]bool{}, slots: slots}
	pace := sc.publishFor / time.Duration(slots)
	start := time.Now()
	for k := range slots {
		readAt := t0.Add(time.Duration(k) * 15 * time.Minute)
		var msgs []kafkago.Message
		var ids []string
		for i := range sc.meters {
			m, tx := meterID(i), fmt.Sprintf("TX-%04d", i/10)
			e, err := contracts.New("/services/chaos", events.TypeMeterReading, events.MeterReading{
				MeterID: m, TransformerID: tx, FeederID: "FDR-0001", ReadAt: readAt,
				IntervalSeconds: 900, EnergyKWhTotal: float64(register(i, k)) / 1000, DemandKW: float64(wh(i, k)*4) / 1000, VoltageVolts: 231,
			})
			if err != nil {
				t.Fatal(err)
			}
			e.ID = events.ReadingID(m, readAt)
			e.Time = readAt
			e.PartitionKey = tx // the rapids' key (contracts/README)
			e.ExpiryTime = time.Now().Add(24 * time.Hour).UTC()
			msgs = append(msgs, message(t, e, nil))
			ids = append(ids, e.ID)
		}
		for n := range badAt[k] {
			e, err := contracts.New("/services/chaos", events.TypeMeterReading, map[string]any{"meter_id": "BAD"})
			if err != nil {
				t.Fatal(err)
			}
			e.ID = fmt.Sprintf("chaos-bad-%d-%d", k, n)
			e.PartitionKey = e.ID
			msgs = append(msgs, message(t, e, []byte(`{"meter_id": "BAD", "read_at": `))) // cut short: malformed JSON
			pub.bad++
		}
		for attempt := 0; ; attempt++ {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			err := w.WriteMessages(ctx, msgs...)
			cancel()
			if err == nil {
				break
			}
			if attempt == 0 {
				pub.retried++
			}
			if time.Since(start) > sc.publishFor+5*time.Minute {
				t.Fatalf("slot %d never acknowledged: %v", k, err)
			}
			time.Sleep(500 * time.Millisecond)
		}
		for _, id := range ids {
			pub.acked[id] = true
		}
		time.Sleep(time.Until(start.Add(time.Duration(k+1) * pace)))
	}
	return pub
}

// message encodes e as a Kafka record (binary mode), with value instead of
// its payload when given.
func message(t *testing.T, e contracts.Event, value []byte) kafkago.Message {
	t.Helper()
	m, err := contracts.EncodeBinary(e)
	if err != nil {
		t.Fatal(err)
	}
	if value != nil {
		m.Value = value
	}
	msg := kafkago.Message{Key: m.Key, Value: m.Value}
	for _, h := range m.Headers {
		msg.Headers = append(msg.Headers, kafkago.Header{Key: h.Key, Value: h.Value})
	}
	return msg
}

// books are the accounts after a run.
type books struct {
	readings, lost, duplicated            int
	windows, missingWindows, wrongWindows int
	meters, wrongLatest                   int
	badRecords, letters, missingLetters   int
	problem                               string
}

func (b books) balanced() bool { return b.problem == "" }

// check reads the pond, the rivers, the hot pond and the DLQ and balances
// the books against what was published.
func check(t *testing.T, ctx context.Context, sc scenario, kcfg rapids.Config, bucket *blob.Bucket, redisURL string, pub published) books {
	t.Helper()
	var b books
	var problems []string
	// The rapids as the broker holds them: where each record, good or bad, is.
	type pos struct {
		p   int
		off int64
	}
	var badAt []pos
	ranges, err := rapids.Ranges(ctx, kcfg, kcfg.Topics.Rapids)
	if err != nil {
		return books{problem: "rapids: " + err.Error()}
	}
	if err := rapids.ReadRanges(ctx, kcfg, ranges, 0, func(r rapids.Record) error {
		if id, ok := header(r, contracts.HeaderID); ok && strings.HasPrefix(id, "chaos-bad-") {
			badAt = append(badAt, pos{r.Partition, r.Offset})
		}
		return nil
	}); err != nil {
		return books{problem: "rapids: " + err.Error()}
	}
	b.badRecords = len(badAt)

	// 1. The pond: every acknowledged reading, no (partition, offset) twice.
	seen := map[pos]int{}
	inPond := map[string]bool{}
	for row, err := range archive.Rows(ctx, bucket, archive.Filter{Topic: kcfg.Topics.Rapids}) {
		if err != nil {
			return books{problem: "pond: " + err.Error()}
		}
		seen[pos{row.Partition, row.Offset}]++
		inPond[row.Event.ID] = true
	}
	for id := range pub.acked {
		b.readings++
		if !inPond[id] {
			b.lost++
		}
	}
	for _, n := range seen {
		if n > 1 {
			b.duplicated += n - 1
		}
	}
	if b.lost > 0 || b.duplicated > 0 {
		problems = append(problems, fmt.Sprintf("pond: %d readings lost, %d records twice", b.lost, b.duplicated))
	}

	// 2. Usage: the latest usage.interval.v1 per (meter, hour) is exact.
	type window struct {
		meter string
		start int64
	}
	latest := map[window]float64{}
	rr, err := rapids.Ranges(ctx, kcfg, kcfg.Topics.Rivers)
	if err != nil {
		return books{problem: "rivers: " + err.Error()}
	}
	if err := rapids.ReadRanges(ctx, kcfg, rr, 0, func(r rapids.Record) error {
		if typ, _ := header(r, contracts.HeaderType); typ != events.TypeUsageInterval {
			return nil
		}
		e, err := contracts.DecodeBinary(r.Message())
		if err != nil {
			return err
		}
		var u events.UsageInterval
		if err := json.Unmarshal(e.Data, &u); err != nil {
			return err
		}
		if u.Period == "hour" {
			latest[window{u.MeterID, u.Start.Unix()}] = u.EnergyKWh
		}
		return nil
	}); err != nil {
		return books{problem: "rivers: " + err.Error()}
	}
	for i := range sc.meters {
		for h := range sc.hours {
			b.windows++
			got, ok := latest[window{meterID(i), t0.Add(time.Duration(h) * time.Hour).Unix()}]
			want := float64(register(i, 4*h+4)-register(i, 4*h)) / 1000
			switch {
			case !ok:
				b.missingWindows++
			case math.Abs(got-want) > 1e-6:
				b.wrongWindows++
			}
		}
	}
	if b.missingWindows > 0 || b.wrongWindows > 0 {
		problems = append(problems, fmt.Sprintf("usage: %d windows missing, %d wrong", b.missingWindows, b.wrongWindows))
	}

	// 3. The hot pond: each meter's latest reading is its last slot.
	opts, _ := redis.ParseURL(redisURL)
	rc := redis.NewClient(opts)
	defer rc.Close()
	pond := hot.New(rc, nil)
	last := t0.Add(time.Duration(pub.slots-1) * 15 * time.Minute)
	for i := range sc.meters {
		b.meters++
		r, err := pond.Latest(ctx, meterID(i))
		if err != nil || !r.ReadAt.Equal(last) {
			b.wrongLatest++
		}
	}
	if b.wrongLatest > 0 {
		problems = append(problems, fmt.Sprintf("hot pond: %d meters without their last reading", b.wrongLatest))
	}

	// 4. Dead letters: each malformed record from each service, with its origin.
	letters, err := deadletter.Read(ctx, kcfg, []string{rapids.DLQ(kcfg.Topics.Rapids)}, 0)
	if err != nil {
		return books{problem: "dlq: " + err.Error()}
	}
	b.letters = len(letters)
	from := map[pos]map[string]bool{}
	for _, l := range letters {
		if l.OriginTopic != kcfg.Topics.Rapids {
			continue
		}
		p := pos{l.OriginPartition, l.OriginOffset}
		if from[p] == nil {
			from[p] = map[string]bool{}
		}
		from[p][l.Service] = true
	}
	for _, p := range badAt {
		for _, s := range []string{"raw-archiver", "usage-aggregator", "hot-pond"} {
			if !from[p][s] {
				b.missingLetters++
			}
		}
	}
	if b.badRecords != pub.bad {
		problems = append(problems, fmt.Sprintf("the rapids hold %d malformed records, %d were published", b.badRecords, pub.bad))
	}
	if b.missingLetters > 0 {
		problems = append(problems, fmt.Sprintf("dlq: %d letters missing", b.missingLetters))
	}
	b.problem = strings.Join(problems, "; ")
	return b
}

func header(r rapids.Record, key string) (string, bool) {
	for _, h := range r.Headers {
		if h.Key == key {
			return string(h.Value), true
		}
	}
	return "", false
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
