package gapdetector

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/watershed-grid/watershed/contracts/catalog"
	"github.com/watershed-grid/watershed/contracts/events"
)

func TestConfigFromEnv(t *testing.T) {
	tests := []struct {
		env     map[string]string
		wantErr string
		check   func(Config) bool
	}{
		{env: nil, check: func(c Config) bool { return c.Grace == 30*time.Minute && c.MaxConsecutive == 96 }},
		{env: map[string]string{"GAP_GRACE": "45m", "GAP_MAX_CONSECUTIVE": "10", "GAP_CHECKPOINT_DIR": "/tmp/x"},
			check: func(c Config) bool {
				return c.Grace == 45*time.Minute && c.MaxConsecutive == 10 && c.CheckpointDir == "/tmp/x"
			}},
		{env: map[string]string{"GAP_GRACE": "soon"}, wantErr: "GAP_GRACE"},
		{env: map[string]string{"GAP_MAX_CONSECUTIVE": "0"}, wantErr: "GAP_MAX_CONSECUTIVE"},
		{env: map[string]string{"GAP_TICK": "-1s"}, wantErr: "GAP_TICK"},
		{env: map[string]string{"GAP_GRACE": ""}, check: func(c Config) bool { return c.Grace == 30*time.Minute }},
	}
	for _, tt := range tests {
		t.Run("", func(t *testing.T) { checkEnv(t, tt.env, tt.wantErr, tt.check) })
	}
}

func checkEnv(t *testing.T, env map[string]string, wantErr string, check func(Config) bool) {
	for k, v := range env {
		t.Setenv(k, v)
	}
	{
		tt := struct {
			env     map[string]string
			wantErr string
			check   func(Config) bool
		}{env, wantErr, check}
		c, err := ConfigFromEnv()
		switch {
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, ErrInvalidConfig)):
			t.Errorf("env %v: err %v, want one naming %s", tt.env, err, tt.wantErr)
		case tt.wantErr == "" && (err != nil || !tt.check(c)):
			t.Errorf("env %v: %+v, %v", tt.env, c, err)
		}
	}
}

func TestPayloadsMatchTheCatalog(t *testing.T) {
	kwh := 12.5
	m := Missed{MeterID: "m", TransformerID: "t", FeederID: "f", ExpectedAt: t0, Interval: 15 * time.Minute,
		Consecutive: 2, LastReadAt: t0.Add(-30 * time.Minute), LastEnergyKWh: &kwh, DetectedAt: t0.Add(30 * time.Minute)}
	if err := catalog.Default().ValidateValue(events.TypeMeterReadingMissed, MissedPayload(m, 30*time.Minute)); err != nil {
		t.Error(err)
	}
	m.LastReadAt, m.LastEnergyKWh = time.Time{}, nil
	if err := catalog.Default().ValidateValue(events.TypeMeterReadingMissed, MissedPayload(m, 30*time.Minute)); err != nil {
		t.Error(err)
	}
	l := Late{MeterID: "m", TransformerID: "t", FeederID: "f", ReadAt: t0, Interval: 15 * time.Minute,
		EnergyKWh: 12.5, ReceivedAt: t0.Add(time.Hour), MissedDetectedAt: t0.Add(30 * time.Minute)}
	p := LatePayload(l)
	if err := catalog.Default().ValidateValue(events.TypeMeterReadingLate, p); err != nil {
		t.Error(err)
	}
	if p.DelaySeconds != 3600 {
		t.Errorf("delay %v, want 3600", p.DelaySeconds)
	}
}

func TestFileCheckpoints(t *testing.T) {
	s := FileCheckpoints{Dir: t.TempDir()}
	ctx := t.Context()
	if _, err := s.Load(ctx, "x"); !errors.Is(err, ErrNoCheckpoint) {
		t.Fatalf("load before save: %v", err)
	}
	for _, data := range []string{"one", "two"} {
		if err := s.Save(ctx, "x", []byte(data)); err != nil {
			t.Fatal(err)
		}
		got, err := s.Load(ctx, "x")
		if err != nil || string(got) != data {
			t.Fatalf("load %q, %v, want %q", got, err, data)
		}
	}
	notFound := errors.New("nope")
	wrapped := StoreWithNotFound(failingStore{notFound}, notFound)
	if _, err := wrapped.Load(ctx, "x"); !errors.Is(err, ErrNoCheckpoint) {
		t.Errorf("adapted not-found: %v", err)
	}
}

type failingStore struct{ err error }

func (f failingStore) Save(context.Context, string, []byte) error   { return f.err }
func (f failingStore) Load(context.Context, string) ([]byte, error) { return nil, f.err }
