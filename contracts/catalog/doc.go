// Package catalog is Watershed's event catalog at run time: the JSON Schemas
// of contracts/schemas (one per event type and version, JSON Schema 2020-12,
// closed on the producer side), compiled once and validated against, and the
// compatibility rule that lets a schema change only in ways every consumer
// can still read.
//
// Default returns the catalog embedded in this module; Load reads one from
// any fs.FS (a checkout, a test fixture). Validation reports a
// *ValidationError naming the event type and the JSON pointer of each failing
// value; a type outside the catalog is ErrUnknownType.
//
// # meter.reading.v1
//
// Readings, the rapids' volume, are validated by a hand-written validator
// with the JSON Schema library's exact verdict on any bytes (held to it by
// FuzzMeterReadingValidator), without allocating; DecodeMeterReading also
// fills an events.MeterReading in the same pass. usage.interval.v1 and
// feeder.load.v1 have typed validators as well (FuzzTypedValidator). See
// the contracts README.
//
// # Compatibility
//
// A type version (meter.reading.v1) may change only BACKWARD_TRANSITIVE
// compatibly: a consumer validating with the new schema accepts everything
// written under every earlier revision. CheckCompatibility implements the
// rule keyword by keyword (see its doc); CheckHistory applies it to the
// revisions kept in schemas/history/<type>/<n>.json. A change that breaks it
// needs a new type version (meter.reading.v2), published side by side.
package catalog
