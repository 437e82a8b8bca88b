package contracts_test

import (
	"errors"
	"fmt"

	"github.com/watershed-grid/watershed/contracts"
)

func ExampleEncodeBinary() {
	e, _ := contracts.New("/services/meter-simulator", "meter.reading.v1", map[string]any{
		"meter_id": "MTR-000417", "transformer_id": "TX-0042", "feeder_id": "FDR-07",
		"read_at": "2025-03-01T10:15:00Z", "interval_s": 900,
		"energy_kwh_total": 18234.512, "demand_kw": 1.84, "voltage_v": 239.6,
	})
	e.PartitionKey = "MTR-000417" // the Kafka record key: one meter's reads stay in order
	m, err := contracts.EncodeBinary(e)
	if err != nil {
		panic(err)
	}
	fmt.Printf("key %s\n", m.Key)
	for _, h := range m.Headers {
		switch h.Key {
		case contracts.HeaderID, contracts.HeaderTime:
			continue // differ on every run
		}
		fmt.Printf("%s: %s\n", h.Key, h.Value)
	}
	fmt.Printf("value %s\n", m.Value)
	// Output:
	// key MTR-000417
	// ce_specversion: 1.0
	// ce_source: /services/meter-simulator
	// ce_type: meter.reading.v1
	// content-type: application/json
	// value {"demand_kw":1.84,"energy_kwh_total":18234.512,"feeder_id":"FDR-07","interval_s":900,"meter_id":"MTR-000417","read_at":"2025-03-01T10:15:00Z","transformer_id":"TX-0042","voltage_v":239.6}
}

func ExampleDecoder_DecodeBinary() {
	m := contracts.Message{
		Key:   []byte("MTR-000417"),
		Value: []byte(`{"meter_id":"MTR-000417"}`),
		Headers: []contracts.Header{
			{Key: "ce_specversion", Value: []byte("1.0")},
			{Key: "ce_id", Value: []byte("42")},
			{Key: "ce_source", Value: []byte("/services/headend-adapter")},
			{Key: "ce_type", Value: []byte("meter.reading.v1")},
			{Key: "ce_time", Value: []byte("2025-03-01T10:15:00+01:00")},
		},
	}
	dec := contracts.Decoder{MaxEventBytes: 64 << 10}
	e, err := dec.DecodeBinary(m)
	fmt.Println(e.Type, e.Source, e.Time.UTC(), e.PartitionKey, err)

	m.Headers[4].Value = []byte("10:15 yesterday")
	_, err = dec.DecodeBinary(m)
	var de *contracts.DecodeError
	if errors.As(err, &de) {
		fmt.Println("bad attribute:", de.Attribute, errors.Is(err, contracts.ErrInvalidAttribute))
	}
	// Output:
	// meter.reading.v1 /services/headend-adapter 2025-03-01 09:15:00 +0000 UTC MTR-000417 <nil>
	// bad attribute: time true
}
