package archiver

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"github.com/watershed-grid/watershed/rivers/riverstest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/watershed-grid/watershed/contracts"
	"github.com/watershed-grid/watershed/contracts/events"
	"github.com/watershed-grid/watershed/ponds/archive"
	"github.com/watershed-grid/watershed/rapids"
	"github.com/watershed-grid/watershed/rapids/embedded"
	"github.com/watershed-grid/watershed/rivers"
	"gocloud.dev/blob"
)

// requireEnv returns the variable's value, or ends the test: Skip when it
// is unset, Fatal when it is unset and CI=true (CI provides the servers).
func requireEnv(t testing.TB, name string) string {
	t.Helper()
	return riverstest.RequireServer(t, name, "real server")
}

// startBroker starts an embedded Kafka broker with two partitions a topic.
func startBroker(t testing.TB) rapids.Config {
	t.Helper()
	b, err := embedded.Start(context.Background(), embedded.Options{Addr: "127.0.0.1:0", Partitions: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	cfg := rapids.Config{Brokers: []string{b.Addr()}}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := rapids.EnsureTopics(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// pond is a bucket under test and the URL the service opens.
type pond struct {
	url    string
	bucket *blob.Bucket
}

func filePond(t testing.TB) pond {
	t.Helper()
	u := "file://" + filepath.Join(t.TempDir(), "pond")
	b, err := archive.OpenBucket(context.Background(), u)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return pond{u, b}
}

// s3Pond is a prefix of its own in the WATERSHED_TEST_S3 bucket, with the
// credentials in AWS_* as an operator sets them.
func s3Pond(t *testing.T) pond {
	t.Helper()
	endpoint := requireEnv(t, "WATERSHED_TEST_S3")
	t.Setenv("AWS_ACCESS_KEY_ID", requireEnv(t, "WATERSHED_TEST_S3_ACCESS_KEY"))
	t.Setenv("AWS_SECRET_ACCESS_KEY", requireEnv(t, "WATERSHED_TEST_S3_SECRET_KEY"))
	t.Setenv("AWS_SESSION_TOKEN", "")
	region := os.Getenv("WATERSHED_TEST_S3_REGION")
	if region == "" {
		region = "us-east-1"
	}
	q := url.Values{}
	q.Set("endpoint", endpoint)
	q.Set("region", region)
	q.Set("use_path_style", "true")
	q.Set("prefix", "raw-archiver-test-"+randomHex(6)+"/")
	u := "s3://" + requireEnv(t, "WATERSHED_TEST_S3_BUCKET") + "?" + q.Encode()
	b, err := archive.OpenBucket(context.Background(), u)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx := context.Background()
		it := b.List(nil)
		for {
			o, err := it.Next(ctx)
			if err != nil {
				break
			}
			_ = b.Delete(ctx, o.Key)
		}
		_ = b.Close()
	})
	return pond{u, b}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// reading is one simulated reading and what the pond must hold of it.
type reading struct {
	id    string
	kwh   float64 // the meter's register
	meter string
}

// energy is what the readings' meters used: each register's growth
// between consecutive reads (the readings of a meter come in read order).
func energy(rs []reading) float64 {
	last := map[string]float64{}
	var e float64
	for _, r := range rs {
		if prev, ok := last[r.meter]; ok && r.kwh >= prev {
			e += r.kwh - prev
		}
		last[r.meter] = r.kwh
	}
	return e
}

var day = time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)

// readings builds n meter.reading.v1 records on topic over 7 meters; the
// fourth is past its use-by date (archived all the same).
func readings(t testing.TB, topic string, n int) ([]rapids.Record, []reading) {
	t.Helper()
	recs := make([]rapids.Record, 0, n)
	want := make([]reading, 0, n)
	for i := range n {
		m := fmt.Sprintf("MTR-%03d", i%7)
		r := events.MeterReading{MeterID: m, TransformerID: "TX-1", FeederID: "FDR-1",
			ReadAt: day.Add(time.Duration(i/7) * 15 * time.Minute), IntervalSeconds: 900,
			EnergyKWhTotal: float64(i) + 0.25, DemandKW: 1, VoltageVolts: 230}
		e, err := contracts.New("/meters/"+m, events.TypeMeterReading, r)
		if err != nil {
			t.Fatal(err)
		}
		e.Time, e.PartitionKey = r.ReadAt, m
		if i == 3 {
			e.ExpiryTime = r.ReadAt.Add(time.Hour) // long past
		}
		rec, err := rapids.NewRecord(topic, e)
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, rec)
		want = append(want, reading{e.ID, r.EnergyKWhTotal, m})
	}
	return recs, want
}

// badRecords returns a malformed record (no valid CloudEvent) and a
// schema-invalid reading (negative register).
func badRecords(t testing.TB, topic string) (malformed, invalid rapids.Record) {
	t.Helper()
	malformed = rapids.Record{Topic: topic, Key: []byte("MTR-000"), Value: []byte(`{"meter_id":`),
		Headers: []contracts.Header{{Key: contracts.HeaderType, Value: []byte(events.TypeMeterReading)}}}
	e, err := contracts.New("/meters/MTR-000", events.TypeMeterReading, map[string]any{
		"meter_id": "MTR-000", "transformer_id": "TX-1", "feeder_id": "FDR-1", "read_at": day.Format(time.RFC3339),
		"interval_s": 900, "energy_kwh_total": -5, "demand_kw": 1, "voltage_v": 230})
	if err != nil {
		t.Fatal(err)
	}
	e.PartitionKey = "MTR-000"
	if invalid, err = rapids.NewRecord(topic, e); err != nil {
		t.Fatal(err)
	}
	return malformed, invalid
}

func produce(t testing.TB, cfg rapids.Config, recs ...rapids.Record) {
	t.Helper()
	p, err := rapids.NewProducer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for len(recs) > 0 {
		n := min(len(recs), 500)
		if err := p.Publish(ctx, recs[:n]...); err != nil {
			t.Fatal(err)
		}
		recs = recs[n:]
	}
}

// newService returns a service over the test broker, without HTTP.
func newService(t testing.TB, kcfg rapids.Config, group string) *rivers.Service {
	t.Helper()
	svc, err := rivers.NewService(rivers.Config{Name: Name, Version: "v0.0.0-test", Group: group, Kafka: kcfg,
		HTTPAddr: "off", LogLevel: "warn", HeartbeatInterval: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

// testConfig archives topic into u with small, fast files.
func testConfig(u string, topic rivers.Topic, rows int) Config {
	return Config{Topic: topic, PondsURL: u, FlushRows: rows, FlushAge: 300 * time.Millisecond,
		PollInterval: 50 * time.Millisecond, Slice: 500 * time.Millisecond, LeaseTimeout: 3 * time.Second}
}

// pondRows reads every row of topic in the pond: event id -> times seen,
// and the kWh sum of the readings.
func pondRows(t testing.TB, b *blob.Bucket, topic string) (map[string]int, float64) {
	t.Helper()
	seen := map[string]int{}
	var kwh float64
	for row, err := range archive.Rows(context.Background(), b, archive.Filter{Topic: topic}) {
		if err != nil {
			t.Fatal(err)
		}
		seen[row.Event.ID]++
		if row.Event.Type == events.TypeMeterReading {
			var r events.MeterReading
			if err := json.Unmarshal(row.Event.Data, &r); err != nil {
				t.Fatal(err)
			}
			kwh += r.EnergyKWhTotal
		}
	}
	return seen, kwh
}

// waitFor polls cond until it holds or the timeout passes.
func waitFor(t testing.TB, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// snapshot returns every object of the pond and its bytes.
func snapshot(t testing.TB, b *blob.Bucket) map[string]string {
	t.Helper()
	ctx := context.Background()
	out := map[string]string{}
	it := b.List(nil)
	for {
		o, err := it.Next(ctx)
		if err != nil {
			break
		}
		data, err := b.ReadAll(ctx, o.Key)
		if err != nil {
			t.Fatal(err)
		}
		out[o.Key] = string(data)
	}
	return out
}

// endOffsets reads topic from the start and returns each partition's next
// offset after its last record, once n records were read.
func endOffsets(t testing.TB, cfg rapids.Config, topic string, n int) map[int]int64 {
	t.Helper()
	c, err := rapids.NewConsumer(cfg, "ends-"+randomHex(4), []string{topic})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ends := map[int]int64{}
	for range n {
		r, err := c.Fetch(ctx)
		if err != nil {
			t.Fatalf("read back %s: %v", topic, err)
		}
		ends[r.Partition] = max(ends[r.Partition], r.Offset+1)
	}
	return ends
}

// caughtUp reports whether a has committed ends on every partition.
func caughtUp(a *Archiver, ends map[int]int64) bool {
	got := a.Committed()
	for p, end := range ends {
		if got[p] < end {
			return false
		}
	}
	return true
}

// duckdb runs the analysts' recipe over a file:// pond: the distinct
// readings and the energy its meters used.
func duckdb(t *testing.T, root string) (distinct int, kwh float64) {
	t.Helper()
	py, err := exec.LookPath("python3")
	if err == nil {
		err = exec.Command(py, "-c", "import duckdb").Run()
	}
	if err != nil {
		msg := "python3 with duckdb not found (pip install -r ponds/analysts/requirements.txt)"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	out, err := exec.Command(py, "../analysts/duckdb_recipe.py", root, "--topic", "rapids").Output()
	if err != nil {
		t.Fatalf("recipe: %v %s", err, out)
	}
	var res struct {
		DistinctIDs int     `json:"distinct_ids"`
		EnergyKWh   float64 `json:"energy_kwh"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("recipe output %q: %v", out, err)
	}
	return res.DistinctIDs, res.EnergyKWh
}
