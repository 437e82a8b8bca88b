// Package template renders a new Watershed service module: a main that is
// one call of rivers.Main, the service's package (configuration from the
// environment with defaults and validation, its rivers and handlers, tests
// on the riverstest kit and on the embedded broker), a README and a
// Dockerfile. The files are embedded, so the watershed CLI
// (`watershed new service <name>`) calls [Render] without a checkout of
// this directory.
//
// The skeleton renders to a service that builds and passes its tests as
// is: it watches supply voltage in meter readings and publishes
// meter.reading.anomalous.v1 when it leaves the configured band. A team
// keeps the structure and replaces the logic.
//
// With [Options.Consumes] (and [Options.Publishes]) it renders a service
// of those catalog types instead (the typed skeleton): one river per
// consumed type on the type's topic, requiring what its schema requires,
// with a handler that decodes the Go payload of contracts/events; for each
// (consumed, published) pair a mapping stub that copies the fields both
// payloads share and publishes only once it fills what the published
// schema requires; tests that send the catalog's example of each consumed
// type (contracts.ExampleFS), in memory and on the embedded broker; and a
// README and doc.go written from the types.
package template
