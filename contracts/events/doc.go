// Package events holds the Go payload types of Watershed's event catalog:
// one struct per event type and version, with the JSON names of its schema
// (contracts/schemas/<type>.json), and a Type* constant per type.
//
// The structs are generated from the schemas (payloads_gen.go, by go
// generate in the contracts module; see contracts/README.md) and tested to
// agree with them: every schema property is a field and every field a
// property, required properties are never omitted, optional ones are
// omitted when zero. Optional measurements whose zero is meaningful (a
// voltage of 0 V during an outage) are pointers. The enumerated values
// (enums.go) and reading identities (identity.go) are written by hand.
//
// Publish a payload with contracts.New(source, events.TypeMeterReading, r);
// validate bytes with the catalog package.
package events
