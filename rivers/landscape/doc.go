// Package landscape is the ecosystem as its heartbeats describe it: which
// services run, in which versions and instances, what each publishes and
// the river contracts each subscribes with, and the demand graph derived
// from them (for each event type its producers and its active and passive
// consumers; a "*" or "prefix.*" river consumes every matching type).
//
// [Registry] keeps that view; [Watch] feeds one from a rivers service's
// passive rivers of system.heartbeat.v1 and system.service.stopping.v1,
// judging silence on its own position in the stream (package
// rivers/lagwatch), never the wall clock. The registry service serves it
// over HTTP; the demand tracker retires what nobody consumes from it; the
// CLI decodes the registry's answers into its types.
package landscape
