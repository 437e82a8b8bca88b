package integration

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/watershed-grid/watershed/rapids"
	"github.com/watershed-grid/watershed/rivers"
	"github.com/watershed-grid/watershed/rivers/riverstest"
)

// TestIntegrationSASL connects a service with its own SCRAM credentials on
// the SASL_PLAINTEXT listener, where it books an event, and checks that
// wrong credentials fail at start, quickly, with an error that names the
// mechanism and the user and says authentication failed.
func TestIntegrationSASL(t *testing.T) {
	k := realKafka(t)
	cfg := freshTopics(t, k.saslConfig(t), 1)

	t.Run("OwnCredentials", func(t *testing.T) {
		l := newLedger()
		riverstest.ServeKafka(t, newLedgerService(t, cfg, unique("ledger"), "ledger-sasl", l, 0), cfg)
		e := reading(t, meter(1), 1)
		riverstest.Produce(t, cfg, rivers.Record(mustRecord(t, cfg.Topics.Rapids, e)))
		if missing := l.waitFor([]string{e.ID}, 60*time.Second); len(missing) > 0 {
			t.Fatalf("event %s never booked over SASL %s", e.ID, cfg.SASL.Mechanism)
		}
	})

	wrong := cfg
	wrong.SASL.Password = "not-" + cfg.SASL.Password
	// checkAuthError checks err is a clear authentication failure.
	checkAuthError := func(t *testing.T, what string, err error, took time.Duration) {
		t.Helper()
		if err == nil {
			t.Fatalf("%s with a wrong password succeeded", what)
		}
		t.Logf("%s with a wrong password failed after %s: %v", what, took.Round(time.Millisecond), err)
		msg := err.Error()
		if !strings.Contains(msg, wrong.SASL.Mechanism) {
			t.Errorf("%s: error %q does not name the mechanism %s", what, msg, wrong.SASL.Mechanism)
		}
		if !strings.Contains(strings.ToLower(msg), "authentication failed") {
			t.Errorf("%s: error %q does not say authentication failed", what, msg)
		}
		if !rapids.IsPermanent(err) {
			t.Errorf("%s: error %q is not permanent: a wrong password does not heal by retrying", what, msg)
		}
	}

	t.Run("WrongPasswordServiceRun", func(t *testing.T) {
		svc, err := rivers.NewService(rivers.Config{Name: ledgerService, Version: "1.0.0", Instance: "wrong", Group: unique("ledger"),
			Kafka: wrong, HTTPAddr: "127.0.0.1:0", LogLevel: "error"}, rivers.WithLogger(quietLogger()))
		if err != nil {
			t.Fatal(err)
		}
		svc.Handle(rivers.NewRiver("meter.reading.v1").OnTopic(rivers.Rapids), func(context.Context, rivers.Event, rivers.Publisher) error { return nil })
		ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
		defer cancel()
		start := time.Now()
		err = svc.Run(ctx)
		if ctx.Err() != nil {
			t.Fatalf("Run with a wrong password did not fail within 45s (returned %v)", err)
		}
		checkAuthError(t, "rivers Service.Run", err, time.Since(start))
	})

	t.Run("WrongPasswordPublish", func(t *testing.T) {
		p, err := rapids.NewProducer(wrong)
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
		defer cancel()
		start := time.Now()
		err = p.Publish(ctx, mustRecord(t, cfg.Topics.Rapids, reading(t, meter(2), 2)))
		if ctx.Err() != nil {
			t.Fatalf("Publish with a wrong password did not fail within 45s (returned %v)", err)
		}
		checkAuthError(t, "rapids Publish", err, time.Since(start))
	})
}

// TestIntegrationSASLWrongPasswordAtStart checks that a wrong password
// fails at start with an error naming the user: a Publish, a consumer (it
// fails in NewConsumer instead of waiting forever) and so a service started
// with ENSURE_TOPICS=false.
func TestIntegrationSASLWrongPasswordAtStart(t *testing.T) {
	k := realKafka(t)
	cfg := freshTopics(t, k.saslConfig(t), 1)
	wrong := cfg
	wrong.SASL.Password = "not-" + cfg.SASL.Password

	t.Run("PublishNamesUser", func(t *testing.T) {
		p, err := rapids.NewProducer(wrong)
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		err = p.Publish(ctx, mustRecord(t, cfg.Topics.Rapids, reading(t, meter(2), 2)))
		if err == nil || !strings.Contains(err.Error(), wrong.SASL.Username) {
			t.Errorf("Publish with a wrong password: %v; want an error naming the user %q", err, wrong.SASL.Username)
		}
	})

	t.Run("ConsumerFails", func(t *testing.T) {
		c, err := rapids.NewConsumer(wrong, unique("wrong"), []string{cfg.Topics.Rapids})
		if err != nil {
			return // failing at construction is fine
		}
		defer c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		err = c.WaitAssigned(ctx)
		if err == nil || ctx.Err() != nil {
			t.Errorf("consumer with a wrong password: WaitAssigned = %v after 20s; want an authentication error at once", err)
		}
	})

	t.Run("ServiceWithoutEnsureTopicsFails", func(t *testing.T) {
		svc, err := rivers.NewService(rivers.Config{Name: ledgerService, Version: "1.0.0", Instance: "wrong", Group: unique("ledger"),
			Kafka: wrong, HTTPAddr: "127.0.0.1:0", LogLevel: "error", SkipEnsureTopics: true}, rivers.WithLogger(quietLogger()))
		if err != nil {
			t.Fatal(err)
		}
		svc.Handle(rivers.NewRiver("meter.reading.v1").OnTopic(rivers.Rapids), func(context.Context, rivers.Event, rivers.Publisher) error { return nil })
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		err = svc.Run(ctx)
		if ctx.Err() != nil {
			t.Errorf("Run (ENSURE_TOPICS=false) with a wrong password did not fail within 20s (returned %v)", err)
		}
	})
}
