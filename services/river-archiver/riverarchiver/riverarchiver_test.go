package riverarchiver

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/watershed-grid/watershed/contracts"
	"github.com/watershed-grid/watershed/ponds/archive"
	"github.com/watershed-grid/watershed/ponds/archiver"
	"github.com/watershed-grid/watershed/rapids"
	"github.com/watershed-grid/watershed/rapids/embedded"
	"github.com/watershed-grid/watershed/rivers"
	"github.com/watershed-grid/watershed/rivers/riverstest"
)

func TestDefaultConfigArchivesRivers(t *testing.T) {
	t.Setenv(archiver.EnvDataDir, "/data")
	t.Setenv(archiver.EnvPondsURL, "")
	c, err := ConfigFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	if c.Topic != rivers.Rivers || c.PondsURL != filepath.Join("/data", "pond") {
		t.Fatalf("config %+v", c)
	}
}

// TestArchivesEveryTypeOfTheRivers archives events of a type the catalog
// does not know (kept raw) and dead-letters a malformed record to
// rivers.dlq; the event after it is archived.
func TestArchivesEveryTypeOfTheRivers(t *testing.T) {
	b, err := embedded.Start(context.Background(), embedded.Options{Addr: "127.0.0.1:0", Partitions: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	kcfg := rapids.Config{Brokers: []string{b.Addr()}}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := rapids.EnsureTopics(ctx, kcfg); err != nil {
		t.Fatal(err)
	}
	var recs []rapids.Record
	ids := map[string]bool{}
	for i := range 20 {
		e, err := contracts.New("/services/test", "test.note.v1", map[string]int{"n": i})
		if err != nil {
			t.Fatal(err)
		}
		r, err := rapids.NewRecord("rivers", e)
		if err != nil {
			t.Fatal(err)
		}
		if i == 10 {
			recs = append(recs, rapids.Record{Topic: "rivers", Value: []byte("not an event"),
				Headers: []contracts.Header{{Key: contracts.HeaderType, Value: []byte("test.note.v1")}}})
		}
		recs = append(recs, r)
		ids[e.ID] = true
	}
	p, err := rapids.NewProducer(kcfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Publish(ctx, recs...); err != nil {
		t.Fatal(err)
	}
	p.Close()

	svc, err := rivers.NewService(rivers.Config{Name: Name, Version: "v0.0.0-test", Kafka: kcfg, HTTPAddr: "off", LogLevel: "warn"})
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "pond")
	cfg := DefaultConfig()
	cfg.PondsURL, cfg.FlushAge, cfg.PollInterval, cfg.Slice, cfg.LeaseTimeout = dir, 200*time.Millisecond, 50*time.Millisecond, 500*time.Millisecond, 3*time.Second
	a, err := archiver.New(svc, cfg)
	if err != nil {
		t.Fatal(err)
	}
	run := riverstest.ServeKafka(t, svc, kcfg)
	deadline := time.Now().Add(60 * time.Second)
	for a.Committed()[0] < int64(len(recs)) {
		if time.Now().After(deadline) {
			t.Fatalf("committed %v, want %d", a.Committed(), len(recs))
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := run.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := a.Close(ctx); err != nil {
		t.Fatal(err)
	}
	bucket, err := archive.OpenBucket(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer bucket.Close()
	n := 0
	for row, err := range archive.Rows(ctx, bucket, archive.Filter{Topic: "rivers", Type: "test.note.v1"}) {
		if err != nil {
			t.Fatal(err)
		}
		if !ids[row.Event.ID] {
			t.Fatalf("unexpected or repeated row %s", row.Event.ID)
		}
		delete(ids, row.Event.ID)
		n++
	}
	if len(ids) != 0 || n != 20 {
		objs, _ := archive.List(ctx, bucket, archive.Filter{})
		t.Logf("objects %v", objs)
		t.Fatalf("%d rows; %d events missing", n, len(ids))
	}
	dl := riverstest.Consume(t, kcfg, "rivers.dlq", riverstest.Count("", 1), 30*time.Second)
	if len(dl) != 1 {
		t.Fatalf("%d dead letters, want 1", len(dl))
	}
	d, err := rivers.ParseDeadLetter(dl[0])
	if err != nil || d.Class != rivers.ClassMalformed || d.OriginTopic != "rivers" || d.OriginOffset != 10 {
		t.Fatalf("dead letter %+v, %v", d, err)
	}
}
