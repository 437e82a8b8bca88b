// Package alertrouter is the alert-router service: it turns the rivers'
// events a person must know about into alerts, and routes, groups,
// de-duplicates, repeats, resolves, inhibits and silences them on their way
// to webhooks, Slack-compatible webhooks and email, like Prometheus'
// Alertmanager does for metrics alerts.
//
// # From events to alerts
//
// An alert kind ([AlertSpec]) names the event type that raises it, the
// data fields that identify one alert (its key: the same values are the
// same alert, so repeats are de-duplicated), further fields copied to its
// labels, and optionally the event type that resolves it and a timeout.
// The built-in kinds ([DefaultAlerts]) are outage_suspected (resolved by
// outage.restored.v1 with the same outage_id), service_down (resolved by
// system.service.up.v1 of the service), clock_skew (resolved after an hour
// without another skew), meter_silent (meter.reading.missed.v1 with
// consecutive_missed >= 3, resolved by the meter's meter.reading.late.v1)
// and dlq_growing (raised by a watch of the dead-letter topics' end
// offsets). A rules file adds kinds — a failed-command or usage alert type,
// say — and the service subscribes to exactly the types its kinds raise
// and resolve with: one river per type, declaring the fields the rules
// read. Types the contracts catalog does not know yet are allowed.
//
// Labels are the attributes alertname, type, source, subject and severity
// plus the data fields the rules name (dotted paths reach into objects;
// "data.source" is the data field where "source" is the attribute).
//
// # Routing, grouping, repeating
//
// Routes are tried in order; a route takes an alert when all its matchers
// match, and the search stops there unless it says continue. A route's
// alerts are grouped by its group_by labels; a group is notified
// group_wait after its first alert, then at most every group_interval when
// it changed (alerts firing or resolved), and every repeat_interval while
// anything fires. ALERT_WEBHOOK_URL adds a first route that takes every
// alert and continues.
//
// Inhibit rules mute target alerts while a source alert fires with the
// same values of the equal labels: by default an outage_suspected mutes
// the meter_silent alerts of its transformer. Silences (POST /v1/silences,
// `watershed alerts silence`) mute the alerts their matchers match for a
// while. Muted alerts are still listed.
//
// # Durability and delivery
//
// Alerts, groups, silences, the outbox of notifications and the dead
// notifications live in memory and in a [Store] (Redis by default); every
// change is stored before the event's offset is committed or the request
// answered, and loaded back at start: a restart neither loses an alert nor
// re-sends a notification it had recorded as sent. A notification's id is
// stable across retries (header X-Watershed-Notification-Id), so the rare
// duplicate of a crash between sending and recording can be dropped.
// Deliveries are retried with doubling backoff; a 4xx answer, a 5xx SMTP
// reply or running out of attempts moves the notification to the dead
// notifications (GET /v1/dead, POST /v1/dead/{id}/retry), logs an error
// and counts it. Every attempt is in the history (GET /v1/deliveries).
//
// An event whose alert key is missing is dead-lettered by the SDK (a
// permanent error) and counted in watershed_alert_events_invalid_total; a
// store failure is retried and then dead-lettered, replayable with
// `watershed dlq`.
//
// # Environment
//
// Besides the SDK's variables (package rivers) and ponds/hot's REDIS_*:
//
//	ALERT_RULES_FILE            ""        YAML rules (alerts, receivers, routes, inhibit); "" = built-in alerts only
//	ALERT_WEBHOOK_URL           ""        every alert also goes to this URL (route "default-webhook")
//	ALERT_WEBHOOK_SECRET        ""        HMAC-SHA256 key of ALERT_WEBHOOK_URL's deliveries
//	ALERT_STORE                 redis     redis (durable) or memory (a restart forgets)
//	ALERT_REDIS_PREFIX          ws:alert-router:
//	ALERT_GROUP_WAIT            10s       default group_wait of routes
//	ALERT_GROUP_INTERVAL        1m        default group_interval
//	ALERT_REPEAT_INTERVAL       4h        default repeat_interval
//	ALERT_TICK                  1s        how often groups, timeouts and deliveries are looked at
//	ALERT_RESOLVED_RETENTION    24h       resolved alerts and expired silences stay listed this long
//	ALERT_DELIVERY_ATTEMPTS     6         attempts before a notification is dead
//	ALERT_DELIVERY_BACKOFF      2s        wait after the first failure, doubled after each
//	ALERT_DELIVERY_MAX_BACKOFF  5m        longest wait between attempts
//	ALERT_DELIVERY_TIMEOUT      10s       one attempt
//	ALERT_HISTORY               1000      delivery attempts kept
//	ALERT_MAX_ALERTS            50        alerts listed in one notification (the rest counted)
//	ALERT_SMTP_ADDR             ""        default smarthost (host:port) of email receivers
//	ALERT_SMTP_FROM             watershed@localhost
//	ALERT_SMTP_USERNAME         ""        PLAIN auth (needs TLS unless the host is localhost)
//	ALERT_SMTP_PASSWORD         ""
//	ALERT_DLQ_TOPICS            <rivers>.dlq,<rapids>.dlq
//	ALERT_DLQ_INTERVAL          30s       how often the DLQ end offsets are read; negative: off
//	ALERT_DLQ_MIN_GROWTH        1         new letters in one interval that raise dlq_growing
//	ALERT_DLQ_QUIET             10m       no growth for this long resolves it
package alertrouter
