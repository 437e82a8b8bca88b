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
package template
