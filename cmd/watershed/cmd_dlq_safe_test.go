package main

import (
	"strings"
	"testing"

	"github.com/watershed-grid/watershed/contracts"
	"github.com/watershed-grid/watershed/contracts/events"
	"github.com/watershed-grid/watershed/rivers"
	"github.com/watershed-grid/watershed/rivers/riverstest"
)

func TestSafeEscapesTerminalControls(t *testing.T) {
	for in, want := range map[string]string{
		"plain, ünïcode":          "plain, ünïcode",
		"\x1b[2J\x1b]0;pwned\x07": `\x1b[2J\x1b]0;pwned\a`,
		"a\nb\rc\td":              `a\nb\rc\td`,
		"c1 \u009b31m":            `c1 \u009b31m`,
		"bad \xff utf8":           `bad \xff utf8`,
		"del \x7f":                `del \x7f`,
	} {
		if got := safe(in); got != want {
			t.Errorf("safe(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestDLQOutputEscapesHeaders: a letter whose headers carry ANSI escape
// sequences (anyone who can produce writes them) reaches the operator's
// terminal escaped, in ls, show and replay.
func TestDLQOutputEscapesHeaders(t *testing.T) {
	for _, k := range riverstest.Kafkas(t) {
		t.Run(k.Name, func(t *testing.T) {
			t.Setenv("KAFKA_TOPIC_RIVERS", k.Kafka.Topics.Rivers)
			t.Setenv("KAFKA_TOPIC_RAPIDS", k.Kafka.Topics.Rapids)
			brokers := "--brokers=" + strings.Join(k.Kafka.Brokers, ",")
			r, _ := deadLetter(t, k.Kafka.Topics.Rivers, events.TypeUsageInterval, "perm\x1b[31manent", "boom \x1b]0;owned\x07 \x1b[2J")
			for i, h := range r.Headers {
				if h.Key == contracts.HeaderSource {
					r.Headers[i].Value = []byte("/services/\x1b[1mevil")
				}
			}
			r.Headers = append(r.Headers, contracts.Header{Key: rivers.HeaderDLQRiver, Value: []byte("r\u009b1m")})
			riverstest.Produce(t, k.Kafka, r)
			for _, args := range [][]string{{"ls"}, {"show"}, {"replay", "--dry-run"}} {
				out, err := runCLI(t, append([]string{"dlq"}, append(args, brokers, "--idle=1s")...)...)
				if err != nil {
					t.Fatal(err)
				}
				if strings.ContainsAny(out, "\x1b\x07\u009b") {
					t.Errorf("dlq %s printed control characters:\n%q", args[0], out)
				}
				want := `perm\x1b[31manent`
				switch args[0] {
				case "show":
					want = `boom \x1b]0;owned\a \x1b[2J`
				case "replay":
					want = "would replay 1"
				}
				if !strings.Contains(out, want) {
					t.Errorf("dlq %s: no %q in:\n%s", args[0], want, out)
				}
			}
		})
	}
}
