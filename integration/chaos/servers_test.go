package chaos

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	kafkago "github.com/segmentio/kafka-go"
)

// The suite kills its servers, so it runs servers of its own — a Kafka
// broker from the classpath scripts/testenv/up.sh resolved and a
// redis-server — never the shared ones other tests use.

// freePort returns a loopback port nobody listens on now.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// process is a child process the suite can kill and start again, with the
// same command line, its output appended to one log.
type process struct {
	name string
	args []string
	env  []string
	dir  string
	log  string
	cmd  *exec.Cmd
	exit chan struct{}
}

func (p *process) start(t testing.TB) {
	t.Helper()
	f, err := os.OpenFile(p.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(f, "\n==== %s start %s\n", p.name, time.Now().Format(time.RFC3339Nano))
	cmd := exec.Command(p.args[0], p.args[1:]...)
	cmd.Env = append(os.Environ(), p.env...)
	cmd.Dir = p.dir
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		f.Close()
		t.Fatalf("%s: %v", p.name, err)
	}
	p.cmd, p.exit = cmd, make(chan struct{})
	go func(c *exec.Cmd, done chan struct{}) { _ = c.Wait(); f.Close(); close(done) }(cmd, p.exit)
}

// kill sends SIGKILL to the process group (a crash: no shutdown hook runs)
// and waits until it is gone.
func (p *process) kill() {
	if p.cmd == nil {
		return
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	<-p.exit
	p.cmd = nil
}

// running reports whether the process is alive.
func (p *process) running() bool {
	if p.cmd == nil {
		return false
	}
	select {
	case <-p.exit:
		return false
	default:
		return true
	}
}

// tail returns the end of the process's log, for a failure message.
func (p *process) tail() string {
	b, _ := os.ReadFile(p.log)
	if len(b) > 3000 {
		b = b[len(b)-3000:]
	}
	return string(b)
}

// waitUntil polls cond until it holds or timeout passes.
func waitUntil(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(100 * time.Millisecond)
	}
	return true
}

// kafkaBroker is a single-node KRaft broker of the suite's own.
type kafkaBroker struct {
	process
	addr string
}

func startKafka(t testing.TB, classpathFile string) *kafkaBroker {
	t.Helper()
	cp, err := os.ReadFile(classpathFile)
	if err != nil {
		t.Fatalf("the broker's classpath (%s): %v", classpathFile, err)
	}
	dir := t.TempDir()
	port, cport := freePort(t), freePort(t)
	props := filepath.Join(dir, "server.properties")
	conf := fmt.Sprintf(`process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=127.0.0.1:%[2]d
listeners=PLAINTEXT://127.0.0.1:%[1]d,CONTROLLER://127.0.0.1:%[2]d
advertised.listeners=PLAINTEXT://127.0.0.1:%[1]d
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=%[3]s/data
num.partitions=3
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=6
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=6
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
num.network.threads=2
num.io.threads=2
log.segment.bytes=16777216
broker.heartbeat.interval.ms=1000
broker.session.timeout.ms=6000
`, port, cport, dir)
	if err := os.WriteFile(props, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	log4j := filepath.Join(dir, "log4j2.properties")
	_ = os.WriteFile(log4j, []byte("status = warn\nappender.o.type = Console\nappender.o.name = O\nappender.o.layout.type = PatternLayout\nappender.o.layout.pattern = [%d] %p %m (%c)%n\nrootLogger.level = WARN\nrootLogger.appenderRef.o.ref = O\n"), 0o644)
	id := make([]byte, 16)
	_, _ = rand.Read(id)
	classpath := strings.TrimSpace(string(cp))
	format := exec.Command("java", "-Xmx128m", "-cp", classpath, "-Dlog4j2.configurationFile="+log4j,
		"kafka.tools.StorageTool", "format", "-t", base64.RawURLEncoding.EncodeToString(id), "-c", props, "--standalone")
	if out, err := format.CombinedOutput(); err != nil {
		t.Fatalf("formatting the broker's storage: %v\n%s", err, out)
	}
	k := &kafkaBroker{addr: fmt.Sprintf("127.0.0.1:%d", port)}
	k.process = process{name: "kafka", dir: dir, log: filepath.Join(dir, "kafka.log"),
		args: []string{"java", "-Xmx384m", "-Xms128m", "-XX:+UseG1GC", "-XX:TieredStopAtLevel=1", "-XX:+ExitOnOutOfMemoryError",
			"-Djava.awt.headless=true", "-Dlog4j2.configurationFile=" + log4j, "-cp", classpath, "kafka.Kafka", props}}
	k.up(t)
	t.Cleanup(k.kill)
	return k
}

// up starts the broker and returns once it answers metadata requests.
func (k *kafkaBroker) up(t testing.TB) {
	t.Helper()
	k.start(t)
	if !waitUntil(3*time.Minute, func() bool {
		if !k.running() {
			return false
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		c, err := kafkago.DialContext(ctx, "tcp", k.addr)
		if err != nil {
			return false
		}
		defer c.Close()
		_, err = c.Brokers()
		return err == nil
	}) {
		t.Fatalf("the suite's Kafka did not answer within 3 minutes:\n%s", k.tail())
	}
}

// redisServer is a redis-server of the suite's own, with an append-only
// file: a killed Redis loses nothing it acknowledged (the data is in the
// kernel's page cache; fsync only matters when the machine dies).
type redisServer struct {
	process
	url string
}

func startRedis(t testing.TB, bin string) *redisServer {
	t.Helper()
	dir := t.TempDir()
	port := freePort(t)
	conf := filepath.Join(dir, "redis.conf")
	if err := os.WriteFile(conf, fmt.Appendf(nil, "bind 127.0.0.1\nport %d\ndir %s\nappendonly yes\nappendfsync everysec\nsave \"\"\nlogfile \"\"\n", port, dir), 0o644); err != nil {
		t.Fatal(err)
	}
	r := &redisServer{url: fmt.Sprintf("redis://127.0.0.1:%d/0", port)}
	r.process = process{name: "redis", dir: dir, log: filepath.Join(dir, "redis.log"), args: []string{bin, conf}}
	r.up(t)
	t.Cleanup(r.kill)
	return r
}

func (r *redisServer) up(t testing.TB) {
	t.Helper()
	r.start(t)
	opts, _ := redis.ParseURL(r.url)
	c := redis.NewClient(opts)
	defer c.Close()
	if !waitUntil(time.Minute, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		return c.Ping(ctx).Err() == nil
	}) {
		t.Fatalf("the suite's Redis did not answer within a minute:\n%s", r.tail())
	}
}

// buildService builds a service's command into dir and returns its path;
// services/<name> is the module, from the repository's root.
func buildService(t testing.TB, root, name, dir string) string {
	t.Helper()
	out := filepath.Join(dir, name)
	cmd := exec.Command("go", "build", "-o", out, ".")
	cmd.Dir = filepath.Join(root, "services", name)
	var b bytes.Buffer
	cmd.Stdout, cmd.Stderr = &b, &b
	if err := cmd.Run(); err != nil {
		t.Fatalf("building %s: %v\n%s", name, err, b.String())
	}
	return out
}
