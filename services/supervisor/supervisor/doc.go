// Package supervisor is the deployment service: it starts service
// processes from a YAML manifest, restarts a crashed one by its policy with
// capped exponential backoff, reports every restart (published as
// system.service.restarted.v1), and stops them in reverse order on
// shutdown: SIGTERM to the process group, SIGKILL after stop_timeout.
//
// Every run gets its own instance id in SERVICE_INSTANCE (the rivers SDK
// uses it in heartbeats), so a restart event names the new and the
// previous instance exactly as the heartbeat monitor sees them.
//
// Manifest:
//
//	services:
//	  - name: gap-detector
//	    module: github.com/watershed-grid/watershed/services/gap-detector  # go run; or
//	    command: /usr/local/bin/gap-detector                               # a binary
//	    dir: /srv/watershed          # working directory (default: the supervisor's)
//	    args: [--flag]
//	    env: {KAFKA_BROKERS: "127.0.0.1:9092"}
//	    restart: on-failure          # always | on-failure (default) | never
//	    max_restarts: 10             # consecutive; a run longer than stable_after resets; <0 unlimited
//	    backoff: {initial: 1s, max: 30s, factor: 2}
//	    stop_timeout: 10s
//	    stable_after: 30s
//
// [Register] (or [NewPublishing]) gives the supervisor a rivers service as
// its voice: every restart is published as system.service.restarted.v1.
//
// Environment variables (defaults):
//
//	SUPERVISOR_MANIFEST   (required)   path of the manifest
package supervisor
