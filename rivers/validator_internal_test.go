package rivers

import (
	"testing"

	"github.com/watershed-grid/watershed/contracts/catalog"
	"github.com/watershed-grid/watershed/contracts/events"
)

func TestRulesProvenOnlyWhenTheSchemaRequiresWhatTheRiverRequires(t *testing.T) {
	v := Validators(catalog.Default())
	cases := []struct {
		name  string
		river *River
		want  bool
	}{
		{"required keys of meter.reading.v1", NewRiver(events.TypeMeterReading).Require("meter_id", "read_at").Interested("flags"), true},
		{"an optional key required", NewRiver(events.TypeMeterReading).Require("meter_id", "flags"), false},
		{"a value rule", NewRiver(events.TypeMeterReading).RequireValue("meter_id", "MTR-1"), false},
		{"a forbidden key", NewRiver(events.TypeMeterReading).Require("meter_id").Forbid("flags"), false},
		{"a pattern", NewRiver("meter.*").Require("meter_id"), false},
		{"a type without a schema", NewRiver("custom.thing.v1").Require("meter_id"), false},
	}
	for _, c := range cases {
		if got := rulesProven(v, c.river); got != c.want {
			t.Errorf("%s: rulesProven = %v, want %v", c.name, got, c.want)
		}
	}
}
