package events

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Summarize returns a readable one-line summary of an event's payload, for
// people: `watershed tap`, the console's live page. It knows the catalog's
// business and system types and falls back to the payload's first scalar
// members for any other; it never fails (a payload that is not a JSON
// object is shown as its first bytes).
func Summarize(typ string, data []byte) string {
	var m map[string]any
	d := json.NewDecoder(strings.NewReader(string(data)))
	d.UseNumber()
	if err := d.Decode(&m); err != nil {
		return "payload: " + clip(string(data), 120)
	}
	f := fields(m)
	switch typ {
	case "meter.reading.v1":
		return fmt.Sprintf("meter %s read %s kWh total, %s kW at %s V (%s)", f.s("meter_id"), f.s("energy_kwh_total"), f.s("demand_kw"), f.s("voltage_v"), f.t("read_at"))
	case "meter.reading.missed.v1":
		return fmt.Sprintf("meter %s missed its read due %s (%s in a row) on transformer %s, feeder %s", f.s("meter_id"), f.t("expected_at"), f.s("consecutive_missed"), f.s("transformer_id"), f.s("feeder_id"))
	case "meter.reading.late.v1":
		return fmt.Sprintf("meter %s: the read of %s came %s s late", f.s("meter_id"), f.t("read_at"), f.s("delay_s"))
	case "meter.reading.rejected.v1", "meter.reading.anomalous.v1":
		return fmt.Sprintf("meter %s: %s — %s", f.s("meter_id"), f.s("rule"), f.s("reason"))
	case "usage.interval.v1":
		return fmt.Sprintf("meter %s used %s kWh in the %s from %s (%s of %s reads)", f.s("meter_id"), f.s("energy_kwh"), f.s("period"), f.t("start"), f.s("reads"), f.s("reads_expected"))
	case "feeder.load.v1":
		return fmt.Sprintf("%s %s: %s kW, %s kWh from %s", f.s("level"), f.s("id"), f.s("load_kw"), f.s("energy_kwh"), f.t("start"))
	case "outage.suspected.v1":
		return fmt.Sprintf("outage suspected on transformer %s (feeder %s): %s of %s meters silent since %s", f.s("transformer_id"), f.s("feeder_id"), f.pct("silent_share"), f.s("meters_total"), f.t("first_silent_at"))
	case "outage.restored.v1":
		return fmt.Sprintf("power restored on transformer %s (feeder %s) after %s: %s of %s meters back", f.s("transformer_id"), f.s("feeder_id"), f.dur("duration_s"), f.s("meters_restored"), f.s("meters_affected"))
	case "system.heartbeat.v1":
		return fmt.Sprintf("%s %s (%s) alive, lag %s records", f.s("service"), f.s("version"), f.s("instance"), f.s("lag_records"))
	case "system.retirement.v1":
		return fmt.Sprintf("%s: %s should stop publishing %s — %s", f.s("phase"), f.s("service"), f.s("event_type"), f.s("reason"))
	case "system.service.started.v1":
		return fmt.Sprintf("%s %s started (%s)", f.s("service"), f.s("version"), f.s("instance"))
	case "system.service.stopping.v1":
		return fmt.Sprintf("%s %s stopping (%s): %s", f.s("service"), f.s("version"), f.s("instance"), f.s("reason"))
	case "system.service.down.v1":
		return fmt.Sprintf("%s instance %s down: %s heartbeats missed, %s instances left", f.s("service"), f.s("instance"), f.s("missed_heartbeats"), f.s("instances_remaining"))
	case "system.service.up.v1":
		return fmt.Sprintf("%s %s instance %s up", f.s("service"), f.s("version"), f.s("instance"))
	case "system.service.restarted.v1":
		return fmt.Sprintf("%s restarted (%s)", f.s("service"), f.s("instance"))
	case "system.clock.skew.v1":
		return fmt.Sprintf("the clock of %s is off by %s s (threshold %s s)", f.s("source"), f.s("offset_s"), f.s("threshold_s"))
	case "system.monitor.lagging.v1":
		return fmt.Sprintf("%s is %s: %s records, %s s behind", f.s("monitor"), f.s("state"), f.s("behind_records"), f.s("lag_s"))
	case "meter.command.v1", "meter.command.requested.v1":
		return fmt.Sprintf("command %s to meter %s (requested by %s)", f.s("command"), f.s("meter_id"), f.s("requested_by"))
	case "meter.command.ack.v1":
		return fmt.Sprintf("meter %s answered command %s: %s", f.s("meter_id"), f.s("command_id"), f.s("status"))
	case "usage.unusual.v1":
		return fmt.Sprintf("meter %s used %s kWh on the day from %s, %s times its usual %s kWh", f.s("meter_id"), f.s("energy_kwh"), f.t("start"), f.s("ratio"), f.s("baseline_kwh"))
	case "feeder.load.forecast.v1":
		return fmt.Sprintf("feeder %s, %s forecast issued %s: next hour %s kW", f.s("feeder_id"), f.s("model"), f.t("issued_at"), f.firstPoint("points", "load_kw"))
	case "billing.period.v1":
		return fmt.Sprintf("meter %s billed %s kWh for the %s from %s (%s estimated, revision %s)", f.s("meter_id"), f.s("total_kwh"), f.s("period"), f.t("start"), f.s("estimated_kwh"), f.s("revision"))
	case "estimate.needed.v1":
		return fmt.Sprintf("%s asks for meter %s's read at %s (%s intervals missing), by %s", f.s("asker"), f.s("meter_id"), f.t("expected_at"), f.s("gap_intervals"), f.t("deadline"))
	case "estimate.solution.v1":
		return fmt.Sprintf("%s %s estimates meter %s's register at %s kWh (%s, confidence %s)", f.s("solver"), f.s("solver_version"), f.s("meter_id"), f.s("energy_kwh_total"), f.s("method"), f.s("confidence"))
	case "meter.reading.estimated.v1":
		return fmt.Sprintf("meter %s's read at %s estimated: %s kWh (%s, confidence %s)", f.s("meter_id"), f.t("read_at"), f.s("energy_kwh_total"), f.s("method"), f.s("confidence"))
	case "meter.reading.adjusted.v1":
		return fmt.Sprintf("meter %s's read at %s came: true-up %s kWh", f.s("meter_id"), f.t("read_at"), f.s("delta_kwh"))
	case "meter.command.outcome.v1":
		return fmt.Sprintf("command %s to meter %s: %s after %s attempts", f.s("command"), f.s("meter_id"), f.s("outcome"), f.s("attempts"))
	}
	return f.generic()
}

type fields map[string]any

// firstPoint returns member key of the first element of the array at arr;
// "?" when there is none.
func (f fields) firstPoint(arr, key string) string {
	if a, ok := f[arr].([]any); ok && len(a) > 0 {
		if m, ok := a[0].(map[string]any); ok {
			return fields(m).s(key)
		}
	}
	return "?"
}

// s returns the member at key as text; "?" when absent.
func (f fields) s(key string) string {
	v, ok := f[key]
	if !ok || v == nil {
		return "?"
	}
	switch v := v.(type) {
	case string:
		return clip(v, 80)
	case json.Number:
		if x, err := v.Float64(); err == nil && x != float64(int64(x)) {
			return strconv.FormatFloat(x, 'f', 2, 64)
		}
		return v.String()
	case bool:
		return strconv.FormatBool(v)
	case []any:
		return strconv.Itoa(len(v)) + " items"
	}
	return "{…}"
}

// t returns the time at key, shortened.
func (f fields) t(key string) string {
	v, _ := f[key].(string)
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return f.s(key)
	}
	return t.UTC().Format("2006-01-02 15:04:05Z")
}

func (f fields) pct(key string) string {
	n, ok := f[key].(json.Number)
	x, err := n.Float64()
	if !ok || err != nil {
		return f.s(key)
	}
	return strconv.FormatFloat(100*x, 'f', 0, 64) + "%"
}

func (f fields) dur(key string) string {
	n, ok := f[key].(json.Number)
	x, err := n.Float64()
	if !ok || err != nil {
		return f.s(key)
	}
	return (time.Duration(x) * time.Second).String()
}

// generic shows the first six scalar members, by name.
func (f fields) generic() string {
	keys := make([]string, 0, len(f))
	for k, v := range f {
		switch v.(type) {
		case string, json.Number, bool:
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	var b strings.Builder
	for i, k := range keys {
		if i == 6 {
			b.WriteString(" …")
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(k + "=" + f.s(k))
	}
	if b.Len() == 0 {
		return "(no scalar members)"
	}
	return b.String()
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8Start(s[n]) {
		n--
	}
	return s[:n] + "…"
}

func utf8Start(b byte) bool { return b&0xC0 != 0x80 }
