// Package contracts is Watershed's wire contract: the CloudEvents 1.0
// envelope with Watershed's extensions (use-by, lineage, partition key), its
// Kafka binary-mode and structured-JSON encodings, and strict, bounded
// decoding that reports which attribute is wrong and why.
//
// Every decoding failure is a *DecodeError wrapping one of the sentinel
// errors; decoding never panics, whatever the bytes, and what decodes
// encodes back to the same event (both are fuzzed). Decoder bounds the size
// of one event (DefaultMaxEventBytes, 1 MiB, by default).
//
// The event catalog lives beside the envelope: the JSON Schemas (SchemaFS),
// their Go payload types (package events), validation and the compatibility
// rule (package catalog), and the contracts-check command. README.md is the
// contract for integrators in other languages. Its catalog table, the
// AsyncAPI document asyncapi.yaml and package events' payload structs,
// Type* constants, Types and NewPayload are generated from the schemas (go
// generate ./contracts/..., checked by tests).
package contracts

//go:generate go run ./cmd/contracts-gen
