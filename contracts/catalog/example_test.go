package catalog_test

import (
	"errors"
	"fmt"

	"github.com/watershed-grid/watershed/contracts/catalog"
)

func ExampleCatalog_Validate() {
	c := catalog.Default()
	err := c.Validate("meter.reading.v1", []byte(`{
		"meter_id": "MTR-000417", "transformer_id": "TX-0042", "feeder_id": "FDR-07",
		"read_at": "2025-03-01T10:15:00Z", "interval_s": 900,
		"energy_kwh_total": -3, "demand_kw": 1.84, "voltage_v": 239.6}`))
	var ve *catalog.ValidationError
	if errors.As(err, &ve) {
		for _, v := range ve.Violations {
			fmt.Printf("%s at %s: %s\n", ve.Type, v.Path, v.Message)
		}
	}
	// Output:
	// meter.reading.v1 at /energy_kwh_total: minimum: got -3, want 0
}

func ExampleCheckCompatibility() {
	v1 := catalog.SchemaDoc{Name: "1.json", JSON: []byte(`{
		"type": "object", "additionalProperties": false, "required": ["id"],
		"properties": {"id": {"type": "string"}, "kw": {"type": "number"}}}`)}
	addOptional := catalog.SchemaDoc{Name: "2.json", JSON: []byte(`{
		"type": "object", "additionalProperties": false, "required": ["id"],
		"properties": {"id": {"type": "string"}, "kw": {"type": "number"}, "v": {"type": "number"}}}`)}
	narrow := catalog.SchemaDoc{Name: "3.json", JSON: []byte(`{
		"type": "object", "additionalProperties": false, "required": ["id", "v"],
		"properties": {"id": {"type": "string"}, "kw": {"type": "integer"}, "v": {"type": "number"}}}`)}

	fmt.Println(catalog.CheckCompatibility([]catalog.SchemaDoc{v1}, addOptional))
	err := catalog.CheckCompatibility([]catalog.SchemaDoc{v1, addOptional}, narrow)
	var ce *catalog.CompatibilityError
	if errors.As(err, &ce) {
		for _, i := range ce.Issues {
			fmt.Println(i.Against, i.Path, i.Rule)
		}
	}
	// Output:
	// <nil>
	// 1.json /kw TYPE_NARROWED
	// 1.json /v REQUIRED_PROPERTY_ADDED
	// 2.json /kw TYPE_NARROWED
	// 2.json /v REQUIRED_PROPERTY_ADDED
}
