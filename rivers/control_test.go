package rivers_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/watershed-grid/watershed/contracts"
	"github.com/watershed-grid/watershed/contracts/events"
	"github.com/watershed-grid/watershed/rivers"
	"github.com/watershed-grid/watershed/rivers/riverstest"
)

func newKey(t *testing.T) (ed25519.PublicKey, ed25519.PrivateKey) {
	t.Helper()
	pub, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return pub, key
}

// A retirement takes effect only from the demand-tracker's key; forged,
// tampered, unsigned and out-of-role ones are dead-lettered as
// unauthorised, counted, and change nothing.
func TestControlEventsTakeEffectOnlyFromTheirPublisher(t *testing.T) {
	trackerPub, trackerKey := newKey(t)
	dispatcherPub, dispatcherKey := newKey(t)
	_, rogueKey := newKey(t)
	cfg := testConfig("voltage-watch")
	cfg.ControlTrust = []rivers.TrustedKey{
		{ID: "demand-tracker", PublicKey: trackerPub, Types: []string{events.TypeRetirement}},
		{ID: "command-dispatcher", PublicKey: dispatcherPub, Types: []string{"meter.command.*"}},
	}
	svc, _ := newVoltageWatch(t, cfg)
	kit := riverstest.New(t, svc)

	retire := func(sign func(*rivers.Record)) {
		t.Helper()
		e := kit.Event(events.TypeRetirement, events.Retirement{Service: "voltage-watch", EventType: events.TypeMeterReadingAnomalous,
			Phase: events.PhaseRetired, Reason: "test", DecidedAt: kit.Now()})
		e.Source = "/services/demand-tracker"
		m, err := contracts.EncodeBinary(e)
		if err != nil {
			t.Fatal(err)
		}
		rec := rivers.Record{Key: m.Key, Value: m.Value, Headers: m.Headers}
		if sign != nil {
			sign(&rec)
		}
		kit.SendRecord(rec)
	}
	refused := func(what, wantErr string) {
		t.Helper()
		if got := svc.Retired(); len(got) != 0 {
			t.Fatalf("%s: retired %v", what, got)
		}
		dls := kit.DeadLetters()
		if len(dls) == 0 || dls[len(dls)-1].Class != rivers.ClassUnauthorised || !strings.Contains(dls[len(dls)-1].Error, wantErr) {
			t.Fatalf("%s: dead letters %+v, want the last one unauthorised (%q)", what, dls, wantErr)
		}
	}

	retire(nil)
	refused("unsigned", "carries no signature")
	retire(func(r *rivers.Record) { rivers.SignControl(r, "demand-tracker", rogueKey) })
	refused("forged with another key", "does not match the event")
	retire(func(r *rivers.Record) { rivers.SignControl(r, "someone", rogueKey) })
	refused("an unknown signer", "not in the trust list")
	retire(func(r *rivers.Record) { rivers.SignControl(r, "command-dispatcher", dispatcherKey) })
	refused("a trusted key out of its role", "may not publish system.retirement.v1")
	retire(func(r *rivers.Record) {
		rivers.SignControl(r, "demand-tracker", trackerKey)
		r.Value = []byte(strings.Replace(string(r.Value), `"reason":"test"`, `"reason":"tset"`, 1))
	})
	refused("tampered after signing", "does not match the event")
	if n := kit.Metric(rivers.MetricEventsDead, "class", rivers.ClassUnauthorised); n != 5 {
		t.Errorf("%v unauthorised dead letters counted, want 5", n)
	}

	retire(func(r *rivers.Record) { rivers.SignControl(r, "demand-tracker", trackerKey) })
	if got := svc.Retired(); !slices.Equal(got, []string{events.TypeMeterReadingAnomalous}) {
		t.Fatalf("retired %v after the demand-tracker's signed retirement", got)
	}
}

// A service with a control key signs the control events it publishes, and
// a consumer that trusts the key accepts them.
func TestControlEventsPublishedAreSigned(t *testing.T) {
	pub, key := newKey(t)
	cfg := testConfig("demand-tracker")
	cfg.ControlKey = key
	svc, err := rivers.NewService(cfg)
	if err != nil {
		t.Fatal(err)
	}
	svc.Publishes(events.TypeRetirement, events.TypeMeterReadingAnomalous)
	kit := riverstest.New(t, svc)
	if err := svc.Publish(t.Context(), events.TypeRetirement, events.Retirement{Service: "voltage-watch", EventType: events.TypeMeterReadingAnomalous,
		Phase: events.PhaseRetired, Reason: "no subscriber", DecidedAt: kit.Now()}, rivers.WithTTL(time.Hour)); err != nil {
		t.Fatal(err)
	}
	var recs []rivers.Record
	for _, r := range kit.PublishedRecords(rivers.Rivers) {
		if v, _ := contracts.HeaderValue(r.Headers, contracts.HeaderType); string(v) == events.TypeRetirement {
			recs = append(recs, r)
		}
	}
	if len(recs) != 1 {
		t.Fatalf("%d retirements published", len(recs))
	}
	if id, _ := contracts.HeaderValue(recs[0].Headers, rivers.HeaderAuthKey); string(id) != "demand-tracker" {
		t.Errorf("signed as %q, want the service name", id)
	}
	// The consumer side of the same record.
	consumerCfg := testConfig("voltage-watch")
	consumerCfg.ControlTrust = []rivers.TrustedKey{{ID: "demand-tracker", PublicKey: pub, Types: []string{events.TypeRetirement}}}
	consumer, _ := newVoltageWatch(t, consumerCfg)
	ck := riverstest.New(t, consumer)
	rec := recs[0]
	rec.Topic = ""
	ck.SendRecord(rec)
	if dls := ck.DeadLetters(); len(dls) != 0 || !slices.Equal(consumer.Retired(), []string{events.TypeMeterReadingAnomalous}) {
		t.Fatalf("a signed retirement from a trusted key: dead letters %+v, retired %v", dls, consumer.Retired())
	}
}

func TestParseTrust(t *testing.T) {
	pub, _ := newKey(t)
	line, err := rivers.FormatTrustLine("demand-tracker", pub, events.TypeRetirement)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := rivers.ParseTrust([]byte("# who may publish control events\n\n" + line + "\n"))
	if err != nil || len(keys) != 1 || keys[0].ID != "demand-tracker" || !keys[0].PublicKey.Equal(pub) ||
		!slices.Equal(keys[0].Types, []string{events.TypeRetirement}) {
		t.Fatalf("ParseTrust = %+v, %v", keys, err)
	}
	_, err = rivers.ParseTrust([]byte(line + "\n" + line + "\nbad line\nx y not-base64\n"))
	for _, want := range []string{"line 2: key id demand-tracker is listed twice", "line 3: want", "line 4 (x): the public key is not base64"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseTrust error %v, want it to contain %q", err, want)
		}
	}
}
