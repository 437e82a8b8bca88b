package simulator

import (
	"encoding/json"
	"math"
	"slices"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC) // a Monday

func testFleet(t testing.TB, meters int) *Fleet {
	t.Helper()
	f, err := NewFleet(FleetConfig{Seed: 7, Meters: meters})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func testModel(t testing.TB, f *Fleet, sc Scenario) *Model {
	t.Helper()
	if sc.Start.IsZero() {
		sc.Start = t0
	}
	m, err := NewModel(f, sc)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// collect runs a generator to until and returns every item in delivery order.
func collect(g *Generator, until time.Time) []Item {
	var out []Item
	for up := range g.Uploads(until) {
		out = append(out, up.Items...)
	}
	return out
}

func TestFleetTopology(t *testing.T) {
	f := testFleet(t, 10_000)
	if got := len(f.Transformers()); got != 500 {
		t.Errorf("transformers = %d, want 500", got)
	}
	if got := len(f.Feeders()); got != 10 {
		t.Errorf("feeders = %d, want 10", got)
	}
	if got := len(f.Substations()); got != 2 {
		t.Errorf("substations = %d, want 2", got)
	}
	if got := len(f.Collectors()); got != 50 {
		t.Errorf("collectors = %d, want 50", got)
	}
	m := f.Meter(1234)
	if m.ID != "MTR-0001235" || m.TransformerID != "TX-00062" || m.FeederID != "FDR-0002" || m.SubstationID != "SUB-001" || m.CollectorID != "COL-0007" {
		t.Errorf("meter 1234 = %+v", m)
	}
	ids := f.MetersOf("TX-00062")
	if len(ids) != 20 || !slices.Contains(ids, m.ID) {
		t.Errorf("MetersOf(TX-00062) = %v", ids)
	}
	if f.MetersOf("TX-99999") != nil {
		t.Error("unknown id gave meters")
	}
	// A ragged fleet: the last transformer is partial.
	g := testFleet(t, 45)
	tx := g.Transformers()
	if len(tx) != 3 || tx[2].Count != 5 {
		t.Errorf("ragged transformers = %+v", tx)
	}
}

func TestFleetConfigValidate(t *testing.T) {
	for _, c := range []FleetConfig{{Meters: -1}, {MetersPerTransformer: -2}, {NominalVoltage: 20}} {
		if _, err := NewFleet(c); err == nil {
			t.Errorf("NewFleet(%+v) succeeded", c)
		}
	}
}

func TestDeterministic(t *testing.T) {
	sc := Scenario{Faults: []Fault{{Kind: FaultDuplicate, Rate: 0.05}, {Kind: FaultOutOfOrder, Rate: 0.05}}}
	a := collect(NewGenerator(testModel(t, testFleet(t, 300), sc)), t0.Add(6*time.Hour))
	b := collect(NewGenerator(testModel(t, testFleet(t, 300), sc)), t0.Add(6*time.Hour))
	if len(a) == 0 || !slices.Equal(a, b) {
		t.Fatalf("two runs with the same seed differ (%d vs %d items)", len(a), len(b))
	}
	other, err := NewFleet(FleetConfig{Seed: 8, Meters: 300})
	if err != nil {
		t.Fatal(err)
	}
	c := collect(NewGenerator(testModel(t, other, sc)), t0.Add(6*time.Hour))
	if slices.Equal(a, c) {
		t.Fatal("a different seed gave the same reads")
	}
}

func TestRegisterGrowsAndMatchesModel(t *testing.T) {
	f := testFleet(t, 200)
	m := testModel(t, f, Scenario{})
	g := NewGenerator(m)
	last := map[string]Reading{}
	n := 0
	for up := range g.Uploads(t0.Add(48 * time.Hour)) {
		for _, it := range up.Items {
			r := it.Reading
			n++
			if p, ok := last[r.MeterID]; ok {
				if !r.ReadAt.Equal(p.ReadAt.Add(15 * time.Minute)) {
					t.Fatalf("%s: read at %s after %s", r.MeterID, r.ReadAt, p.ReadAt)
				}
				delta := r.RegisterWh - p.RegisterWh
				if delta <= 0 {
					t.Fatalf("%s: register did not grow: %d → %d", r.MeterID, p.RegisterWh, r.RegisterWh)
				}
				// energy = demand × interval, to the watt-hour.
				if want := r.DemandW / 4; delta != want || r.DemandW%4 != 0 {
					t.Fatalf("%s: delta %d Wh, demand %d W", r.MeterID, delta, r.DemandW)
				}
			}
			last[r.MeterID] = r
		}
	}
	if n != 200*192 {
		t.Fatalf("%d reads, want %d", n, 200*192)
	}
	for id, r := range last {
		want, err := m.RegisterWh(id, r.ReadAt)
		if err != nil {
			t.Fatal(err)
		}
		if r.RegisterWh != want {
			t.Fatalf("%s: generated register %d, model %d", id, r.RegisterWh, want)
		}
	}
}

func TestLoadShape(t *testing.T) {
	f := testFleet(t, 2000)
	m := testModel(t, f, Scenario{})
	// Fleet average demand by hour of day, weekday and weekend.
	avg := func(day time.Time, hour int) float64 {
		sum := 0.0
		for i := range f.Len() {
			sum += f.demandKW(i, day.Add(time.Duration(hour)*time.Hour+30*time.Minute).Unix(), 900)
		}
		return sum / float64(f.Len())
	}
	night, morning, evening := avg(t0, 3), avg(t0, 7), avg(t0, 19)
	if !(evening > morning && morning > night*1.5) {
		t.Errorf("weekday shape: night %.3f, morning %.3f, evening %.3f kW", night, morning, evening)
	}
	sat := t0.AddDate(0, 0, 5)
	if sat.Weekday() != time.Saturday {
		t.Fatal("test date arithmetic")
	}
	if wkMorning := avg(sat, 7); wkMorning >= morning {
		t.Errorf("weekend 07:00 %.3f kW should be below weekday %.3f kW", wkMorning, morning)
	}
	if wkMidday, midday := avg(sat, 13), avg(t0, 13); wkMidday <= midday {
		t.Errorf("weekend 13:00 %.3f kW should be above weekday %.3f kW", wkMidday, midday)
	}
	// Per-premise variation: meters differ.
	a, b := f.demandKW(0, t0.Unix()+3600, 900), f.demandKW(1, t0.Unix()+3600, 900)
	if a == b {
		t.Error("two premises have identical demand")
	}
	_ = m
}

func TestVoltage(t *testing.T) {
	f := testFleet(t, 400)
	g := NewGenerator(testModel(t, f, Scenario{}))
	byHour := map[int][]float64{}
	for up := range g.Uploads(t0.Add(24 * time.Hour)) {
		for _, it := range up.Items {
			v := it.Reading.VoltageV()
			if v < 207 || v > 253 {
				t.Fatalf("voltage %.1f outside 230 V ± 10%%", v)
			}
			h := it.Reading.ReadAt.Hour()
			byHour[h] = append(byHour[h], v)
		}
	}
	mean := func(vs []float64) float64 {
		s := 0.0
		for _, v := range vs {
			s += v
		}
		return s / float64(len(vs))
	}
	if night, peak := mean(byHour[4]), mean(byHour[19]); peak >= night-1 {
		t.Errorf("no sag under load: 04:00 %.2f V, 19:00 %.2f V", night, peak)
	}
}

func TestJSONExact(t *testing.T) {
	r := Reading{MeterID: "MTR-0000001", TransformerID: "TX-00001", FeederID: "FDR-0001",
		ReadAt: t0.Add(15 * time.Minute), Interval: 15 * time.Minute,
		RegisterWh: 12_345_007, DemandW: 1_204, VoltageDV: 2298, Flags: FlagPowerFail}
	raw := r.AppendJSON(nil)
	var got struct {
		MeterID   string    `json:"meter_id"`
		ReadAt    time.Time `json:"read_at"`
		IntervalS int       `json:"interval_s"`
		Energy    float64   `json:"energy_kwh_total"`
		Demand    float64   `json:"demand_kw"`
		Voltage   float64   `json:"voltage_v"`
		Flags     []string  `json:"flags"`
	}
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatalf("%s: %v", raw, err)
	}
	if got.MeterID != r.MeterID || !got.ReadAt.Equal(r.ReadAt) || got.IntervalS != 900 || !slices.Equal(got.Flags, []string{"power_fail"}) {
		t.Errorf("decoded %+v from %s", got, raw)
	}
	if int64(math.Round(got.Energy*1000)) != r.RegisterWh || got.Energy != 12345.007 {
		t.Errorf("energy %v from %s", got.Energy, raw)
	}
	if got.Demand != 1.204 || got.Voltage != 229.8 {
		t.Errorf("demand %v voltage %v from %s", got.Demand, got.Voltage, raw)
	}
	r.Flags = 0
	if raw := string(r.AppendJSON(nil)); strings.Contains(raw, "flags") {
		t.Errorf("no flags, yet %s", raw)
	}
	for _, c := range []struct {
		v    int64
		d    int
		want string
	}{{5, 3, "0.005"}, {-1500, 3, "-1.500"}, {2300, 1, "230.0"}, {7, 0, "7"}, {1000, 3, "1.000"}} {
		if got := string(appendFixed(nil, c.v, c.d)); got != c.want {
			t.Errorf("appendFixed(%d, %d) = %s, want %s", c.v, c.d, got, c.want)
		}
	}
}

func TestUploadsAreBursts(t *testing.T) {
	f := testFleet(t, 1000)
	g := NewGenerator(testModel(t, f, Scenario{MaxUploadDelay: 4 * time.Minute}))
	ups := g.Interval()
	if len(ups) != 5 {
		t.Fatalf("%d uploads, want 5 collectors", len(ups))
	}
	delays := map[time.Duration]bool{}
	for i, up := range ups {
		if i > 0 && up.Due.Before(ups[i-1].Due) {
			t.Fatal("uploads not in due order")
		}
		d := up.Due.Sub(up.ReadAt)
		if d < 0 || d >= 4*time.Minute {
			t.Fatalf("delay %s outside [0, 4m)", d)
		}
		delays[d] = true
		if len(up.Items) != 200 {
			t.Fatalf("%s: %d items", up.CollectorID, len(up.Items))
		}
		for _, it := range up.Items {
			n, _ := f.Lookup(up.CollectorID)
			if i, _ := f.meterIndex(it.Reading.MeterID); i < n.First || i >= n.First+n.Count {
				t.Fatalf("%s uploaded %s", up.CollectorID, it.Reading.MeterID)
			}
		}
	}
	if len(delays) < 2 {
		t.Error("every collector has the same delay")
	}
}

func TestOutage(t *testing.T) {
	f := testFleet(t, 100)
	from, to := t0.Add(10*time.Hour), t0.Add(11*time.Hour+30*time.Minute)
	sc := Scenario{Start: t0, Faults: []Fault{{Kind: FaultOutage, Target: "TX-00002", From: from, To: to}}}
	m := testModel(t, f, sc)
	g := NewGenerator(m)
	seen := map[string][]Reading{}
	for _, it := range collect(g, t0.Add(14*time.Hour)) {
		seen[it.Reading.MeterID] = append(seen[it.Reading.MeterID], it.Reading)
	}
	victims := f.MetersOf("TX-00002")
	for _, id := range f.MetersOf("TX-00001") {
		if len(seen[id]) != 56 {
			t.Fatalf("healthy %s: %d reads, want 56", id, len(seen[id]))
		}
	}
	for _, id := range victims {
		rs := seen[id]
		if len(rs) != 56-5 { // 10:15, 10:30, 10:45, 11:00, 11:15 silent
			t.Fatalf("%s: %d reads, want 51", id, len(rs))
		}
		for j, r := range rs {
			if m.Silent(id, r.ReadAt) {
				t.Fatalf("%s sent a read at %s inside the outage", id, r.ReadAt)
			}
			if r.ReadAt.Equal(to) {
				if r.Flags&FlagPowerFail == 0 || r.DemandW != 0 || r.RegisterWh != rs[j-1].RegisterWh {
					t.Fatalf("first read after the outage: %+v after %+v", r, rs[j-1])
				}
			} else if r.Flags&FlagPowerFail != 0 {
				t.Fatalf("power-fail flag at %s", r.ReadAt)
			}
		}
		// No consumption during the outage; the model agrees.
		u, err := m.UsageWh(id, from, to)
		if err != nil || u != 0 {
			t.Fatalf("usage during outage = %d, %v", u, err)
		}
		if u, _ := m.UsageWh(id, to, to.Add(time.Hour)); u <= 0 {
			t.Fatalf("no usage after the outage")
		}
	}
	if g.Stats().Silent != 5*20 {
		t.Errorf("silent = %d", g.Stats().Silent)
	}
}

// TestHourlyUsageExact replays what a usage aggregator must do: take each
// meter's distinct reads in read_at order and attribute each register delta
// to the hour of its interval's start. Despite duplicates, reordering and an
// outage, the totals equal the model's exactly.
func TestHourlyUsageExact(t *testing.T) {
	f := testFleet(t, 200)
	sc := Scenario{Faults: []Fault{
		{Kind: FaultDuplicate, Rate: 0.1},
		{Kind: FaultOutOfOrder, Rate: 0.1},
		{Kind: FaultMalformed, Rate: 0.01},
		{Kind: FaultOutage, Target: "TX-00003", From: t0.Add(5 * time.Hour), To: t0.Add(7 * time.Hour)},
	}}
	m := testModel(t, f, sc)
	g := NewGenerator(m)
	reads := map[string]map[time.Time]int64{}
	dups, late := 0, 0
	for _, it := range collect(g, t0.Add(24*time.Hour)) {
		if it.Kind == ItemMalformed {
			if json.Valid(it.AppendValue(nil)) {
				t.Fatal("malformed item is valid JSON")
			}
			continue
		}
		if it.Kind == ItemDuplicate {
			dups++
		}
		if it.Late {
			late++
		}
		// Decode from the wire form, as a consumer would.
		var w struct {
			ID     string    `json:"meter_id"`
			At     time.Time `json:"read_at"`
			Energy float64   `json:"energy_kwh_total"`
		}
		if err := json.Unmarshal(it.AppendValue(nil), &w); err != nil {
			t.Fatal(err)
		}
		if reads[w.ID] == nil {
			reads[w.ID] = map[time.Time]int64{}
		}
		reads[w.ID][w.At] = int64(math.Round(w.Energy * 1000))
	}
	if dups == 0 || late == 0 {
		t.Fatalf("faults did not fire: %d duplicates, %d late", dups, late)
	}
	got := map[string]map[time.Time]int64{}
	for id, rs := range reads {
		times := make([]time.Time, 0, len(rs))
		for at := range rs {
			times = append(times, at)
		}
		slices.SortFunc(times, time.Time.Compare)
		got[id] = map[time.Time]int64{}
		prev, prevAt := f.Meter(mustIndex(t, f, id)).InitialRegisterWh, t0
		for _, at := range times {
			got[id][prevAt.Truncate(time.Hour)] += rs[at] - prev
			prev, prevAt = rs[at], at
		}
	}
	want, err := m.HourlyUsage(t0, t0.Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(want) != 200*24 {
		t.Fatalf("%d hourly values", len(want))
	}
	zero := 0
	for _, u := range want {
		if g := got[u.MeterID][u.Hour]; g != u.EnergyWh {
			t.Fatalf("%s %s: aggregated %d Wh, model %d Wh", u.MeterID, u.Hour, g, u.EnergyWh)
		}
		if u.EnergyWh == 0 {
			zero++
		}
	}
	if zero != 40 { // TX-00003's 20 meters in the hours 05:00 and 06:00, fully dark
		t.Errorf("%d zero hours, want 40", zero)
	}
}

func mustIndex(t *testing.T, f *Fleet, id string) int {
	t.Helper()
	i, ok := f.meterIndex(id)
	if !ok {
		t.Fatalf("unknown meter %s", id)
	}
	return i
}

func TestRateFaults(t *testing.T) {
	f := testFleet(t, 1000)
	sc := Scenario{Faults: []Fault{{Kind: FaultMissing, Rate: 0.1}, {Kind: FaultDuplicate, Rate: 0.05, Target: "FDR-0001"}}}
	g := NewGenerator(testModel(t, f, sc))
	items := collect(g, t0.Add(10*time.Hour))
	st := g.Stats()
	total := float64(1000 * 40)
	if r := float64(st.Missing) / total; r < 0.08 || r > 0.12 {
		t.Errorf("missing rate %.3f, want ≈ 0.1", r)
	}
	if r := float64(st.Duplicates) / float64(st.Readings); r < 0.04 || r > 0.06 {
		t.Errorf("duplicate rate %.3f, want ≈ 0.05", r)
	}
	if uint64(len(items)) != st.Readings+st.Duplicates {
		t.Errorf("%d items, stats %+v", len(items), st)
	}
}

func TestStuckAndSkew(t *testing.T) {
	f := testFleet(t, 40)
	from, to := t0.Add(2*time.Hour), t0.Add(3*time.Hour)
	sc := Scenario{Faults: []Fault{
		{Kind: FaultStuck, Target: "MTR-0000003", From: from, To: to},
		{Kind: FaultClockSkew, Target: "MTR-0000004", Skew: 7 * time.Minute, From: from},
	}}
	m := testModel(t, f, sc)
	var stuck, skewed []Reading
	for _, it := range collect(NewGenerator(m), t0.Add(5*time.Hour)) {
		switch it.Reading.MeterID {
		case "MTR-0000003":
			stuck = append(stuck, it.Reading)
		case "MTR-0000004":
			skewed = append(skewed, it.Reading)
		}
	}
	frozen := int64(0)
	for _, r := range stuck {
		trueReg, _ := m.RegisterWh(r.MeterID, r.ReadAt)
		in := !r.ReadAt.Before(from) && r.ReadAt.Before(to)
		switch {
		case in && frozen == 0:
			frozen = r.RegisterWh
		case in && r.RegisterWh != frozen:
			t.Fatalf("stuck register moved at %s", r.ReadAt)
		case !in && r.RegisterWh != trueReg:
			t.Fatalf("register at %s = %d, true %d", r.ReadAt, r.RegisterWh, trueReg)
		}
	}
	if frozen == 0 {
		t.Fatal("no stuck reads")
	}
	for i, r := range skewed {
		want := t0.Add(time.Duration(i+1) * 15 * time.Minute)
		if !want.Before(from) {
			want = want.Add(7 * time.Minute)
		}
		if !r.ReadAt.Equal(want) {
			t.Fatalf("read %d at %s, want %s", i, r.ReadAt, want)
		}
	}
}

func TestInjectAtRunTime(t *testing.T) {
	f := testFleet(t, 100)
	g := NewGenerator(testModel(t, f, Scenario{}))
	g.Interval()
	if err := g.Inject(Fault{Kind: FaultOutage, Target: "COL-0001", From: t0.Add(30 * time.Minute), To: t0.Add(2 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if err := g.Inject(Fault{Kind: FaultOutage, Target: "TX-404"}); err == nil {
		t.Fatal("outage without a window accepted")
	}
	if err := g.Inject(Fault{Kind: FaultMissing, Target: "TX-77777", Rate: 0.5}); err == nil {
		t.Fatal("unknown target accepted")
	}
	n := 0
	for _, up := range g.Interval() {
		n += len(up.Items)
	}
	if n != 100 {
		t.Fatalf("00:30: %d reads, want 100", n)
	}
	for _, up := range g.Interval() {
		if len(up.Items) != 0 {
			t.Fatalf("00:45: collector %s uploaded during its outage", up.CollectorID)
		}
	}
}

func TestScenarioValidate(t *testing.T) {
	f := testFleet(t, 10)
	bad := []Scenario{
		{Start: t0, Interval: 7 * time.Minute},
		{Start: t0, MaxUploadDelay: 20 * time.Minute},
		{Start: t0, Faults: []Fault{{Kind: "meteor"}}},
		{Start: t0, Faults: []Fault{{Kind: FaultMissing, Rate: 2}}},
		{Start: t0, Faults: []Fault{{Kind: FaultClockSkew}}},
		{Start: t0, Faults: []Fault{{Kind: FaultStuck, Target: "NOPE"}}},
		{},
	}
	for _, sc := range bad {
		if _, err := NewModel(f, sc); err == nil {
			t.Errorf("NewModel(%+v) succeeded", sc)
		}
	}
}
