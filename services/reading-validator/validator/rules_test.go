package validator

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/watershed-grid/watershed/contracts/events"
)

var t0 = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)

func reading(meter string, at time.Time, kwh float64) events.MeterReading {
	return events.MeterReading{MeterID: meter, TransformerID: "TX-1", FeederID: "FDR-1", ReadAt: at,
		IntervalSeconds: 900, EnergyKWhTotal: kwh, DemandKW: 1.2, VoltageVolts: 231.4}
}

func newValidator(t testing.TB, cfg Config) *Validator {
	t.Helper()
	v, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func rules(fs []Finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Severity.String()+":"+f.Rule)
	}
	return out
}

func check(v *Validator, r events.MeterReading, ref time.Time) []string {
	return rules(v.Check(nil, &r, ref))
}

func TestRules(t *testing.T) {
	q := 15 * time.Minute
	cases := []struct {
		name  string
		prior []events.MeterReading
		r     func(events.MeterReading) events.MeterReading
		ref   time.Duration // reference time relative to the read's read_at
		want  string
	}{
		{name: "good", want: ""},
		{name: "good after good", prior: []events.MeterReading{reading("M", t0.Add(-q), 99.7)}, want: ""},
		{name: "voltage impossible", r: func(r events.MeterReading) events.MeterReading { r.VoltageVolts = 2300; return r }, want: "rejected:voltage_out_of_range"},
		{name: "demand impossible", r: func(r events.MeterReading) events.MeterReading { r.DemandKW = -5000; return r }, want: "rejected:demand_out_of_range"},
		{name: "future", ref: -time.Hour, want: "rejected:read_at_in_future"},
		{name: "clock reset", r: func(r events.MeterReading) events.MeterReading { r.ReadAt = time.Unix(900, 0); return r }, want: "rejected:read_at_out_of_range"},
		{name: "within skew", ref: -4 * time.Minute, want: ""},
		{name: "duplicate", prior: []events.MeterReading{reading("M", t0, 100)}, want: "rejected:duplicate"},
		{name: "conflicting duplicate", prior: []events.MeterReading{reading("M", t0, 100.5)}, want: "rejected:duplicate_conflict"},
		{name: "register decreased", prior: []events.MeterReading{reading("M", t0.Add(-q), 100.2)}, want: "rejected:register_decreased"},
		{name: "rollover", prior: []events.MeterReading{reading("M", t0.Add(-q), 99999.9)},
			r:    func(r events.MeterReading) events.MeterReading { r.Flags = []string{"register_rollover"}; return r },
			want: "anomalous:register_rollover"},
		{name: "out of order", prior: []events.MeterReading{reading("M", t0.Add(-q), 99.5), reading("M", t0.Add(q), 100.6)}, ref: q, want: "anomalous:out_of_order"},
		{name: "older duplicate", prior: []events.MeterReading{reading("M", t0, 100), reading("M", t0.Add(2*q), 101)}, ref: 2 * q, want: "rejected:duplicate"},
		{name: "older read with a higher register", prior: []events.MeterReading{reading("M", t0.Add(q), 99.9)}, ref: q, want: "rejected:register_decreased"},
		{name: "late", ref: 3 * time.Hour, want: "anomalous:late"},
		{name: "stuck", prior: []events.MeterReading{reading("M", t0.Add(-q), 100)}, want: "anomalous:register_stuck"},
		{name: "not stuck when idle", prior: []events.MeterReading{reading("M", t0.Add(-q), 100)},
			r: func(r events.MeterReading) events.MeterReading { r.DemandKW = 0; return r }, want: ""},
		{name: "jump", prior: []events.MeterReading{reading("M", t0.Add(-q), 50)}, want: "anomalous:register_jump"},
		{name: "demand spike", r: func(r events.MeterReading) events.MeterReading { r.DemandKW = 75; return r }, want: "anomalous:demand_spike"},
		{name: "sag", r: func(r events.MeterReading) events.MeterReading { r.VoltageVolts = 190; return r }, want: "anomalous:voltage_out_of_band"},
		{name: "swell", r: func(r events.MeterReading) events.MeterReading { r.VoltageVolts = 260; return r }, want: "anomalous:voltage_out_of_band"},
		{name: "0 V in a power failure", r: func(r events.MeterReading) events.MeterReading {
			r.VoltageVolts, r.Flags = 0, []string{"power_fail"}
			return r
		}, want: ""},
		{name: "clock invalid and tamper", r: func(r events.MeterReading) events.MeterReading {
			r.Flags = []string{"clock_invalid", "tamper"}
			return r
		}, want: "anomalous:clock_invalid anomalous:tamper"},
		{name: "skewed clock", r: func(r events.MeterReading) events.MeterReading { r.ReadAt = r.ReadAt.Add(7 * time.Minute); return r }, ref: 10 * time.Minute, want: "anomalous:read_at_unaligned"},
		{name: "interval changed", prior: []events.MeterReading{reading("M", t0.Add(-q), 99.7)},
			r: func(r events.MeterReading) events.MeterReading { r.IntervalSeconds = 300; return r }, want: "anomalous:interval_mismatch"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v := newValidator(t, Config{})
			for _, p := range c.prior {
				if got := check(v, p, p.ReadAt); len(got) != 0 {
					t.Fatalf("prior read %s: %v", p.ReadAt, got)
				}
			}
			r := reading("M", t0, 100)
			if c.r != nil {
				r = c.r(r)
			}
			got := strings.Join(check(v, r, t0.Add(c.ref)), " ")
			if got != c.want {
				t.Fatalf("findings %q, want %q", got, c.want)
			}
		})
	}
}

func TestRejectedReadLeavesStateAlone(t *testing.T) {
	v := newValidator(t, Config{})
	check(v, reading("M", t0, 100), t0)
	// A read from the far future is rejected, so the next normal read is
	// neither out of order nor a jump.
	check(v, reading("M", t0.Add(240*time.Hour), 5000), t0)
	if got := check(v, reading("M", t0.Add(15*time.Minute), 100.3), t0.Add(15*time.Minute)); len(got) != 0 {
		t.Fatalf("after a rejected read: %v", got)
	}
}

func TestFindingDetails(t *testing.T) {
	v := newValidator(t, Config{DemandSpikeKW: 10})
	r := reading("M", t0, 100)
	r.DemandKW = 12.5
	fs := v.Check(nil, &r, t0)
	if len(fs) != 1 || fs[0].Field != "demand_kw" || fs[0].Value != 12.5 || fs[0].Threshold != 10 || !strings.Contains(fs[0].Reason, "12.5") {
		t.Fatalf("%+v", fs)
	}
}

func TestStateBounded(t *testing.T) {
	v := newValidator(t, Config{MaxMeters: 640})
	for i := range 5000 {
		r := reading("M"+strings.Repeat("x", i%7)+string(rune('a'+i%26))+time.Duration(i).String(), t0, 1)
		v.Check(nil, &r, t0)
	}
	if n := v.Meters(); n > 640 || n < 320 {
		t.Fatalf("%d meters remembered, bound 640", n)
	}
}

func TestParse(t *testing.T) {
	good := `{"meter_id":"M1","transformer_id":"T","feeder_id":"F","read_at":"2026-03-02T10:15:00Z","interval_s":900,"energy_kwh_total":12.345,"demand_kw":-0.5,"voltage_v":230.1,"flags":["power_fail"],"extra":1}`
	r, err := Parse([]byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if r.MeterID != "M1" || r.IntervalSeconds != 900 || r.EnergyKWhTotal != 12.345 || r.DemandKW != -0.5 || len(r.Flags) != 1 || !r.ReadAt.Equal(t0.Add(15*time.Minute)) {
		t.Fatalf("%+v", r)
	}
	bad := map[string]string{
		`{"meter_id":"M1"}`: "transformer_id",
		strings.Replace(good, `"interval_s":900`, `"interval_s":90.5`, 1):                     "interval_s",
		strings.Replace(good, `"interval_s":900`, `"interval_s":0`, 1):                        "interval_s",
		strings.Replace(good, `"energy_kwh_total":12.345`, `"energy_kwh_total":-1`, 1):        "energy_kwh_total",
		strings.Replace(good, `"energy_kwh_total":12.345`, `"energy_kwh_total":"1"`, 1):       "energy_kwh_total",
		strings.Replace(good, `"read_at":"2026-03-02T10:15:00Z"`, `"read_at":"yesterday"`, 1): "read_at",
		strings.Replace(good, `"meter_id":"M1"`, `"meter_id":""`, 1):                          "meter_id",
		strings.Replace(good, `"voltage_v":230.1,`, ``, 1):                                    "voltage_v",
		`[1,2]`:    "",
		`{"meter_`: "",
	}
	for in, field := range bad {
		_, err := Parse([]byte(in))
		var se *SchemaError
		if !errors.As(err, &se) || !errors.Is(err, ErrSchema) {
			t.Errorf("Parse(%s) = %v, want a schema error", in, err)
			continue
		}
		if se.Field != field {
			t.Errorf("Parse(%s): field %q, want %q (%v)", in, se.Field, field, err)
		}
	}
}

func TestConfigFromEnv(t *testing.T) {
	env := map[string]string{"VALIDATOR_LATE_AFTER": "2h", "VALIDATOR_DEMAND_SPIKE_KW": "30", "VALIDATOR_REFERENCE": "wall"}
	c, err := configFromLookup(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	if c.LateAfter != 2*time.Hour || c.DemandSpikeKW != 30 || c.Reference != ReferenceWall || c.MaxVoltageV != 500 {
		t.Fatalf("%+v", c)
	}
	for k, v := range map[string]string{"VALIDATOR_LATE_AFTER": "soon", "VALIDATOR_MAX_DEMAND_KW": "x", "VALIDATOR_REFERENCE": "sundial", "VALIDATOR_VOLTAGE_LOW_V": "260"} {
		_, err := configFromLookup(func(key string) (string, bool) { return v, key == k })
		if err == nil || !strings.Contains(err.Error(), k) || !errors.Is(err, ErrConfig) {
			t.Errorf("%s=%s: %v", k, v, err)
		}
	}
}

// A partition dropped forgets its meters only: replayed again, its reads
// are judged as the first time, not as duplicates.
func TestDropPartition(t *testing.T) {
	v := newValidator(t, Config{})
	a, b := reading("A", t0, 100), reading("B", t0, 100)
	v.CheckFrom(nil, &a, t0, 0)
	v.CheckFrom(nil, &b, t0, 1)
	v.DropPartition(1)
	if v.Meters() != 1 {
		t.Fatalf("meters %d after the drop, want 1", v.Meters())
	}
	if got := rules(v.CheckFrom(nil, &b, t0, 1)); len(got) != 0 {
		t.Errorf("B replayed after the drop: %v, want no finding", got)
	}
	if got := rules(v.CheckFrom(nil, &a, t0, 0)); len(got) != 1 || got[0] != "rejected:"+RuleDuplicate {
		t.Errorf("A again: %v, want duplicate (its partition was kept)", got)
	}
}
