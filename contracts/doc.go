// Package contracts is Watershed's wire contract: the CloudEvents 1.0
// envelope with Watershed's extensions (use-by, lineage, partition key), its
// Kafka binary-mode and structured-JSON encodings, and strict, bounded
// decoding that reports which attribute is wrong and why.
//
// The event catalog (JSON Schemas, payload types, validation, compatibility)
// lives in the sub-packages catalog and events.
package contracts
