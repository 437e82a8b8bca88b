package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/watershed-grid/watershed/cmd/watershed/internal/ecosystem"
	"github.com/watershed-grid/watershed/contracts"
	"github.com/watershed-grid/watershed/rapids"
	"github.com/watershed-grid/watershed/rapids/embedded"
	"github.com/watershed-grid/watershed/rivers"
)

const testReading = `{"meter_id":"MTR-7","transformer_id":"TX-1","feeder_id":"FDR-1","read_at":"2026-03-01T10:15:00Z",
"interval_s":900,"energy_kwh_total":12.5,"demand_kw":1.2,"voltage_v":231.0}`

func runPublish(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd := newRootCmd()
	cmd.SetArgs(args)
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SetIn(strings.NewReader(testReading))
	err := cmd.Execute()
	return out.String() + errOut.String(), err
}

func TestPublishPutsOneValidatedEventOnItsTopic(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	b, err := embedded.Start(ctx, embedded.Options{Addr: "127.0.0.1:0", Partitions: 1,
		Topics: rapids.DefaultTopicSpecs(rapids.DefaultConfig())})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	file := filepath.Join(t.TempDir(), "reading.json")
	if err := os.WriteFile(file, []byte(testReading), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := runPublish(t, "publish", "meter.reading.v1", "--data", "@"+file, "--brokers", b.Addr(), "--ttl", "1h")
	if err != nil {
		t.Fatalf("publish: %v\n%s", err, out)
	}
	if !strings.Contains(out, "published meter.reading.v1") || !strings.Contains(out, "to rapids") {
		t.Fatalf("output %q does not say what was published where", out)
	}
	conn, err := kafka.DialLeader(ctx, "tcp", b.Addr(), "rapids", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	m, err := conn.ReadMessage(1 << 20)
	if err != nil {
		t.Fatal(err)
	}
	hs := make([]contracts.Header, len(m.Headers))
	for i, h := range m.Headers {
		hs[i] = contracts.Header{Key: h.Key, Value: h.Value}
	}
	ev, err := contracts.DecodeBinary(contracts.Message{Key: m.Key, Value: m.Value, Headers: hs})
	if err != nil {
		t.Fatalf("the published record is no CloudEvent: %v", err)
	}
	if ev.Type != "meter.reading.v1" || ev.PartitionKey != "TX-1" || // the catalog's key: the transformer
		ev.Source != "/services/watershed-cli" ||
		ev.ExpiryTime.IsZero() || !strings.Contains(string(ev.Data), `"meter_id":"MTR-7"`) {
		t.Fatalf("published event %+v", ev)
	}
}

func TestPublishRefusesWhatTheCatalogRefuses(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"publish", "no.such.type.v1", "--data", "{}"}, "known types"},
		{[]string{"publish", "meter.reading.v1", "--data", `{"meter_id":"MTR-1"}`}, "breaks the meter.reading.v1 schema"},
		{[]string{"publish", "meter.reading.v1", "--data", "{not json"}, "not JSON"},
		{[]string{"publish", "meter.reading.v1"}, "data"},
	} {
		out, err := runPublish(t, append(c.args, "--brokers", "127.0.0.1:1")...)
		if err == nil || !strings.Contains(err.Error()+out, c.want) {
			t.Errorf("watershed %s: error %v, want one that says %q", strings.Join(c.args, " "), err, c.want)
		}
	}
}

// A control event published by hand is signed with --control-key, and a
// service that trusts the key would act on it.
func TestPublishSignsControlEvents(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	b, err := embedded.Start(ctx, embedded.Options{Addr: "127.0.0.1:0", Partitions: 1,
		Topics: rapids.DefaultTopicSpecs(rapids.DefaultConfig())})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	keys, err := ecosystem.LoadControlKeys(filepath.Join(t.TempDir(), "keys"))
	if err != nil {
		t.Fatal(err)
	}
	retire := `{"service":"meter-simulator","event_type":"meter.reading.v1","phase":"reinstated","grace_s":0,"effective_at":"2026-12-06T10:00:00Z","reason":"by hand","subscribers":1,"decided_at":"2026-12-06T10:00:00Z"}`
	out, err := runPublish(t, "publish", "system.retirement.v1", "--data", retire, "--brokers", b.Addr(),
		"--control-key", filepath.Join(keys.Dir, ecosystem.OperatorSigner+".pem"))
	if err != nil || !strings.Contains(out, "signed as operator") {
		t.Fatalf("publish: %v\n%s", err, out)
	}
	conn, err := kafka.DialLeader(ctx, "tcp", b.Addr(), "rivers", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	m, err := conn.ReadMessage(1 << 20)
	if err != nil {
		t.Fatal(err)
	}
	rec := rivers.Record{Key: m.Key, Value: m.Value}
	for _, h := range m.Headers {
		rec.Headers = append(rec.Headers, contracts.Header{Key: h.Key, Value: h.Value})
	}
	if err := rivers.VerifyControl(&rec, "system.retirement.v1", keys.Trust); err != nil {
		t.Fatalf("the published retirement does not verify against dev's trust list: %v", err)
	}
	// A reading is no control event: --control-key is refused for it.
	if out, err := runPublish(t, "publish", "meter.reading.v1", "--data", testReading, "--brokers", b.Addr(),
		"--control-key", filepath.Join(keys.Dir, ecosystem.OperatorSigner+".pem")); err == nil || !strings.Contains(err.Error(), "not a control event type") {
		t.Fatalf("--control-key on a reading: %v\n%s", err, out)
	}
}
