package archiver

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/watershed-grid/watershed/rapids"
	"github.com/watershed-grid/watershed/rivers"
	"github.com/watershed-grid/watershed/rivers/riverstest"
)

func TestConfigFromEnv(t *testing.T) {
	env := map[string]string{EnvDataDir: "/var/lib/ws", EnvFlushRows: "500", EnvFlushAge: "3s"}
	c, err := FromEnv(DefaultConfig(), func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	if c.PondsURL != filepath.Join("/var/lib/ws", "pond") || c.FlushRows != 500 || c.FlushAge != 3*time.Second || c.Topic != rivers.Rapids {
		t.Fatalf("config %+v", c)
	}
	env[EnvPondsURL] = "s3://pond?endpoint=http://127.0.0.1:9000&use_path_style=true"
	if c, _ = FromEnv(DefaultConfig(), func(k string) (string, bool) { v, ok := env[k]; return v, ok }); c.PondsURL != env[EnvPondsURL] {
		t.Fatalf("PONDS_URL not preferred over DATA_DIR: %q", c.PondsURL)
	}
	for name, bad := range map[string]map[string]string{
		EnvFlushRows:   {EnvFlushRows: "many"},
		EnvFlushAge:    {EnvFlushAge: "-1s"},
		EnvCompression: {EnvCompression: "lz77"},
		EnvPondsURL:    {EnvPondsURL: "ftp://host/pond"},
	} {
		_, err := FromEnv(DefaultConfig(), func(k string) (string, bool) { v, ok := bad[k]; return v, ok })
		if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), name) {
			t.Errorf("%v: error %v does not name %s", bad, err, name)
		}
	}
}

// TestArchive archives readings, an expired one among them, with a
// malformed and a schema-invalid record in the middle, to file:// and to
// the real S3 server: every valid reading is in the pond exactly once with
// the right kWh, the bad records are dead-lettered with their origin and
// are in no file, and a replay from offset 0 (a new consumer group)
// changes no object.
func TestArchive(t *testing.T) {
	for name, open := range map[string]func(*testing.T) pond{"file": func(t *testing.T) pond { return filePond(t) }, "s3": s3Pond} {
		t.Run(name, func(t *testing.T) {
			p := open(t)
			kcfg := startBroker(t)
			recs, want := readings(t, "rapids", 300)
			malformed, invalid := badRecords(t, "rapids")
			all := append(append(append([]rapids.Record{}, recs[:150]...), malformed, invalid), recs[150:]...)
			produce(t, kcfg, all...)
			ends := endOffsets(t, kcfg, "rapids", len(all))

			svc := newService(t, kcfg, "raw-archiver")
			a, err := New(svc, testConfig(p.url, rivers.Rapids, 40))
			if err != nil {
				t.Fatal(err)
			}
			run := riverstest.ServeKafka(t, svc, kcfg)
			waitFor(t, "the archiver to commit everything", 90*time.Second, func() bool { return caughtUp(a, ends) })
			if err := run.Stop(); err != nil {
				t.Fatal(err)
			}
			if err := a.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
			checkExactlyOnce(t, p, want)
			if name == "file" {
				n, kwh := duckdb(t, strings.TrimPrefix(p.url, "file://"))
				if n != len(want) || math.Abs(kwh-energy(want)) > 1e-6 {
					t.Errorf("duckdb: %d distinct ids, %v kWh used; want %d, %v", n, kwh, len(want), energy(want))
				}
			}

			dl := riverstest.Consume(t, kcfg, "rapids.dlq", riverstest.Count("", 2), 30*time.Second)
			classes := map[string]bool{}
			for _, r := range dl {
				d, err := rivers.ParseDeadLetter(r)
				if err != nil {
					t.Fatal(err)
				}
				if d.OriginTopic != "rapids" || d.Service != Name || d.ConsumerGroup != "raw-archiver"+GroupSuffix {
					t.Errorf("dead letter origin %+v", d)
				}
				classes[d.Class] = true
			}
			if len(dl) != 2 || !classes[rivers.ClassMalformed] || !classes[rivers.ClassSchema] {
				t.Fatalf("dead letters: %d, classes %v; want malformed and schema", len(dl), classes)
			}

			before := snapshot(t, p.bucket)
			replay := newService(t, kcfg, "raw-archiver-replay")
			ra, err := New(replay, testConfig(p.url, rivers.Rapids, 25))
			if err != nil {
				t.Fatal(err)
			}
			rrun := riverstest.ServeKafka(t, replay, kcfg)
			waitFor(t, "the replay to commit everything", 90*time.Second, func() bool { return caughtUp(ra, ends) })
			if err := rrun.Stop(); err != nil {
				t.Fatal(err)
			}
			if err := ra.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
			checkExactlyOnce(t, p, want)
			after := snapshot(t, p.bucket)
			if len(after) != len(before) {
				t.Fatalf("the replay changed the pond: %d objects -> %d", len(before), len(after))
			}
			for k, v := range before {
				if after[k] != v {
					t.Fatalf("the replay rewrote %s", k)
				}
			}
		})
	}
}

func sum(rs []reading) float64 {
	var s float64
	for _, r := range rs {
		s += r.kwh
	}
	return s
}

// checkExactlyOnce: every wanted reading is in the pond once, nothing
// else is, and the kWh sum matches.
func checkExactlyOnce(t *testing.T, p pond, want []reading) {
	t.Helper()
	seen, kwh := pondRows(t, p.bucket, "rapids")
	if len(seen) != len(want) {
		t.Errorf("%d distinct ids in the pond, want %d", len(seen), len(want))
	}
	for _, r := range want {
		if seen[r.id] != 1 {
			t.Errorf("reading %s is in the pond %d times", r.id, seen[r.id])
		}
	}
	if math.Abs(kwh-sum(want)) > 1e-6 {
		t.Errorf("kWh sum %v, want %v", kwh, sum(want))
	}
}

// TestKillMidFileAndRestart runs the archiver service in a child process,
// SIGKILLs it while it writes files, restarts it in the same group: every
// reading is in the pond exactly once; a replay from offset 0 then changes
// no object.
func TestKillMidFileAndRestart(t *testing.T) {
	p := filePond(t)
	kcfg := startBroker(t)
	recs, want := readings(t, "rapids", 1500)
	produce(t, kcfg, recs...)
	ends := endOffsets(t, kcfg, "rapids", len(recs))

	cmd := exec.Command(os.Args[0], "-test.run=^TestArchiverChildProcess$")
	cmd.Env = append(os.Environ(), "ARCHIVER_CHILD=1", "CHILD_BROKER="+kcfg.Brokers[0], "CHILD_POND="+p.url)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	dir := strings.TrimPrefix(p.url, "file://")
	waitFor(t, "the child to write 8 files", 90*time.Second, func() bool {
		objs, _ := filepath.Glob(filepath.Join(dir, "rapids", "*", "*", "*.parquet"))
		return len(objs) >= 8
	})
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	seen, _ := pondRows(t, p.bucket, "rapids")
	t.Logf("killed with %d of %d readings in the pond", len(seen), len(want))

	svc := newService(t, kcfg, "raw-archiver")
	a, err := New(svc, testConfig(p.url, rivers.Rapids, 70))
	if err != nil {
		t.Fatal(err)
	}
	run := riverstest.ServeKafka(t, svc, kcfg)
	waitFor(t, "the restart to commit everything", 120*time.Second, func() bool { return caughtUp(a, ends) })
	if err := run.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := a.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	checkExactlyOnce(t, p, want)

	before := snapshot(t, p.bucket)
	replay := newService(t, kcfg, "raw-archiver-replay")
	ra, err := New(replay, testConfig(p.url, rivers.Rapids, 1000))
	if err != nil {
		t.Fatal(err)
	}
	rrun := riverstest.ServeKafka(t, replay, kcfg)
	waitFor(t, "the replay to commit everything", 120*time.Second, func() bool { return caughtUp(ra, ends) })
	if err := rrun.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := ra.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	checkExactlyOnce(t, p, want)
	if after := snapshot(t, p.bucket); fmt.Sprint(len(after)) != fmt.Sprint(len(before)) {
		t.Fatalf("the replay changed the pond: %d objects -> %d", len(before), len(after))
	}
}

// TestArchiverChildProcess is the archiver TestKillMidFileAndRestart
// kills: the real service (svc.Run) with small files, slowed down by a
// small poll slice so that it is killed mid-way.
func TestArchiverChildProcess(t *testing.T) {
	if os.Getenv("ARCHIVER_CHILD") != "1" {
		t.Skip("the child process of TestKillMidFileAndRestart")
	}
	kcfg := rapids.Config{Brokers: []string{os.Getenv("CHILD_BROKER")}}
	svc := newService(t, kcfg, "raw-archiver")
	cfg := testConfig(os.Getenv("CHILD_POND"), rivers.Rapids, 37)
	cfg.Slice = 100 * time.Millisecond
	if err := Register(svc, cfg); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	_ = svc.Run(ctx) // until the parent kills us
}
