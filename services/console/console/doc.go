// Package console is the console service: web pages for operators over
// the running ecosystem, server-rendered with html/template, every asset
// embedded and served by the service itself.
//
//	/services     the registry's services and the demand graph (who
//	              publishes and who consumes each type, versions, instances,
//	              health, lag, heartbeats, retired types and why), and the
//	              notices, retirements, reinstatements and service up/down
//	              events seen
//	/live         business events as they flow, filtered, each summarized in
//	              one line (server-sent events from /live/stream)
//	/dlq          dead letters grouped by origin, type and error class; one
//	              letter in full (/dlq/letter); replay within the replay
//	              limit (POST /dlq/replay, operators only)
//	/grid         outages now and restored in the last 24 h, feeder load,
//	              a meter's latest state from the hot pond
//	/alerts       the alert-router's firing and resolved alerts (labels,
//	              times, receivers) and silences; operators add a silence
//	              (POST /alerts/silences) and expire one (POST
//	              /alerts/silences/{id}/expire)
//	/api/alerts   the same as JSON, for scripts
//
// The registry (GET /v1/services, /v1/types), the demand tracker (GET
// /v1/demand), the hot pond (GET /v1/meters/{id}/latest) and the
// alert-router (GET /v1/alerts, /v1/silences, /v1/rules; POST
// /v1/silences; DELETE /v1/silences/{id}) are read over HTTP; a backend
// that fails shows as a message on its page. The rest the
// console reads from the rivers itself ([Watch]); dead letters are read
// and replayed with package rivers/deadletter.
//
// # Access
//
// Every page needs a sign-in (users with bcrypt password hashes, from
// CONSOLE_USERS or CONSOLE_USERS_FILE). A viewer reads; an operator also
// replays and silences. Every POST must be same-origin
// (http.CrossOriginProtection) and carry the CSRF token of its cookie.
// Sessions are HMAC-signed cookies (SameSite=Strict, HttpOnly); the role is
// looked up on every request.
//
// Scripts send an API token instead ("Authorization: Bearer <token>",
// CONSOLE_TOKENS keeps its SHA-256 and role): a request with a valid token
// needs no session and no CSRF token, and is answered in JSON; one with a
// wrong token is refused (401), whatever cookie it has.
//
// Failed sign-ins are limited per user name and per client address (token
// buckets, golang.org/x/time/rate): past the limit the answer is 429 with
// Retry-After, even for the right password; a sign-in that succeeds clears
// both.
//
// # State
//
// The live ring, outages, feeder load and the retirement history are in
// memory, built from what the console read since it started (its consumer
// group resumes where it stopped): run one replica.
//
// Environment variables (defaults):
//
//	CONSOLE_REGISTRY_URL      http://registry:8080         registry API
//	CONSOLE_DEMAND_URL        http://demand-tracker:8080   demand tracker API
//	CONSOLE_HOTPOND_URL       http://hot-pond:8080         hot pond API
//	CONSOLE_HOTPOND_TOKEN     ""                           the hot pond's HOTPOND_API_TOKEN, sent as a bearer token
//	CONSOLE_ALERTS_URL        http://alert-router:8080     alert-router API
//	CONSOLE_BACKEND_TIMEOUT   5s                           one request to a backend
//	CONSOLE_USERS             ""                           name:role:bcrypt-hash, comma separated
//	CONSOLE_USERS_FILE        ""                           file of name:role:bcrypt-hash lines
//	CONSOLE_TOKENS            ""                           API tokens, name:role:sha256-hex, comma separated
//	CONSOLE_TOKENS_FILE       ""                           file of name:role:sha256-hex lines
//	CONSOLE_SIGNIN_FAILURES   5                            failed sign-ins of a name before it waits (an address: 4x)
//	CONSOLE_SIGNIN_WAIT       1m                           then one more try per name every wait (an address: 4 per wait)
//	CONSOLE_SESSION_KEY       random at start              signs cookies; at least 32 bytes
//	CONSOLE_SESSION_TTL       12h                          how long a sign-in lasts
//	CONSOLE_SECURE_COOKIES    false                        Secure cookies (set behind HTTPS)
//	CONSOLE_RING_SIZE         500                          recent events kept for /live
//	CONSOLE_FEEDER_HISTORY    96                           load points kept per feeder
//	CONSOLE_DLQ_TOPICS        <rivers>.dlq,<rapids>.dlq    dead-letter topics shown
//	CONSOLE_DLQ_READ_IDLE     2s                           wait for a promised record before taking a partition as read
//	CONSOLE_REPLAY_LIMIT      3                            replays of one event, over all runs
package console
