package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/watershed-grid/watershed/contracts"
	"github.com/watershed-grid/watershed/contracts/events"
	"github.com/watershed-grid/watershed/rapids"
	"github.com/watershed-grid/watershed/rapids/embedded"
)

// tapFixture starts a broker and publishes two event types and one record
// that is not a CloudEvent.
func tapFixture(t *testing.T) (addr string, events []contracts.Event) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := embedded.Start(ctx, embedded.Options{Addr: "127.0.0.1:0", Partitions: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	cfg := rapids.Config{Brokers: []string{b.Addr()}}
	p, err := rapids.NewProducer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	var recs []rapids.Record
	for i, typ := range []string{"meter.reading.v1", "meter.reading.missed.v1", "meter.reading.v1"} {
		e, err := contracts.New("/services/test", typ, map[string]int{"n": i})
		if err != nil {
			t.Fatal(err)
		}
		e.PartitionKey = fmt.Sprintf("meter-%d", i)
		if i == 2 {
			e.PartitionKey = ""
		}
		r, err := rapids.NewRecord("rapids", e)
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, r)
		events = append(events, e)
		if i == 0 { // a record that is no CloudEvent, between two events
			recs = append(recs, rapids.Record{Topic: "rapids", Key: []byte("junk"), Value: []byte("not json")})
		}
	}
	if err := p.Publish(ctx, recs...); err != nil {
		t.Fatal(err)
	}
	return b.Addr(), events
}

func TestTapLines(t *testing.T) {
	addr, evs := tapFixture(t)
	tap := start(t, "tap", "rapids", "--brokers", addr, "--from-beginning")
	waitFor(t, "three event lines", func() bool { return strings.Count(tap.out.String(), "\n") >= 3 })
	waitFor(t, "the error line", func() bool { return strings.Contains(tap.err.String(), "error:") })
	if err := tap.stop(t); err != nil {
		t.Fatalf("tap stopped with %v, want nil after Ctrl-C", err)
	}
	lines := strings.Split(strings.TrimSpace(tap.out.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("printed %d lines, want 3:\n%s", len(lines), tap.out)
	}
	for i, e := range evs {
		key := e.PartitionKey
		if key == "" {
			key = "-"
		}
		want := []string{e.Time.UTC().Format("2006-01-02T15:04:05.000Z"), e.Type, e.ID, e.Source, "key=" + key}
		got := strings.Fields(lines[i])
		if len(got) < len(want) || strings.Join(got[:len(want)], " ") != strings.Join(want, " ") {
			t.Errorf("line %d = %q, want fields %q first", i, lines[i], want)
		}
		// Then the payload in a line.
		if sum := events.Summarize(e.Type, e.Data); !strings.HasSuffix(lines[i], "  "+sum) {
			t.Errorf("line %d = %q, want it to end with the summary %q", i, lines[i], sum)
		}
	}
	if !strings.Contains(tap.err.String(), "error: topic=rapids partition=0 offset=1: cloudevent") {
		t.Errorf("the bad record was not reported with its position; stderr:\n%s", tap.err)
	}
}

func TestTapJSONAndType(t *testing.T) {
	addr, events := tapFixture(t)
	tap := start(t, "tap", "rapids", "--brokers", addr, "--from-beginning", "--json", "--type", "meter.reading.v1")
	// One partition, published before the tap started: once the second
	// reading is printed, the missed-read event between them was read too.
	waitFor(t, "two JSON lines", func() bool { return strings.Count(tap.out.String(), "\n") >= 2 })
	if err := tap.stop(t); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(tap.out.String()), "\n")
	want := []contracts.Event{events[0], events[2]}
	if len(lines) != len(want) {
		t.Fatalf("printed %d lines, want %d:\n%s", len(lines), len(want), tap.out)
	}
	for i, line := range lines {
		e, err := contracts.UnmarshalStructured([]byte(line))
		if err != nil {
			t.Fatalf("line %d is not structured CloudEvents JSON: %v\n%s", i, err, line)
		}
		if e.ID != want[i].ID || e.Type != "meter.reading.v1" || string(e.Data) != string(want[i].Data) || e.PartitionKey != want[i].PartitionKey {
			t.Errorf("line %d: %+v, want %+v", i, e, want[i])
		}
	}
}

func TestTapUnknownTopic(t *testing.T) {
	addr, _ := tapFixture(t)
	cmd := newRootCmd()
	cmd.SetArgs([]string{"tap", "nope", "--brokers", addr})
	err := cmd.Execute()
	if err == nil || !strings.Contains(err.Error(), `topic "nope" does not exist`) {
		t.Errorf("tap of an unknown topic: %v", err)
	}
}
