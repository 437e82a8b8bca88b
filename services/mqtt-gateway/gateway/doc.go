// Package gateway is the mqtt-gateway service: the edge bridge from meters
// on an MQTT broker to the rapids.
//
// It subscribes to MQTT_TOPIC (QoS 1 by default) with a persistent session
// (a stable MQTT_CLIENT_ID, clean start off, MQTT_SESSION_EXPIRY), turns
// each payload — a JSON object with meter.reading.v1's properties, meter_id
// optional when the topic's first "+" names the meter — into a
// meter.reading.v1 event on the rapids, keyed by transformer_id, validated against
// the contracts catalog. A payload that is not JSON (class malformed) or
// breaks the schema (class schema) is counted and dead-lettered to
// rapids.dlq, its bytes unchanged, with the rivers SDK's dlq_ headers and
// dlq_origin_topic "mqtt:<topic>". Each MQTT message is acknowledged to the
// broker only once it is stored on the rapids or the dead-letter topic
// (manual acknowledgement), so a crash loses nothing: the broker delivers
// the unacknowledged messages again (at-least-once): the event's ce_id is
// the reading's identity, events.ReadingID(meter_id, read_at), so a message
// delivered twice is one event downstream.
//
// The connection is autopaho's (MQTT 5): it reconnects with backoff after a
// broker loss and resubscribes in OnConnectionUp. It is opened by the
// service's first "mqtt" timer tick and closed when the ticks stop for
// GATEWAY_LEASE_TIMEOUT (the service stopped). /readyz fails when the
// broker has been unreachable for more than 10 s.
//
// # Environment
//
//	MQTT_URL                        tcp://127.0.0.1:1883     tcp, mqtt, ssl, tls, mqtts, ws, wss
//	MQTT_TOPIC                      meters/+/reading         subscription; first "+" = meter id
//	MQTT_QOS                        1
//	MQTT_CLIENT_ID                  watershed-mqtt-gateway   unique per broker, stable across restarts
//	MQTT_USERNAME, MQTT_PASSWORD    (none)
//	MQTT_TLS_CA_FILE                (system roots)
//	MQTT_TLS_CERT_FILE, _KEY_FILE   (none)                   client certificate
//	MQTT_TLS_SERVER_NAME            (from the URL)
//	MQTT_TLS_INSECURE_SKIP_VERIFY   false
//	MQTT_SESSION_EXPIRY             1h                       broker keeps the session this long
//	MQTT_KEEPALIVE                  30s
//	MQTT_RECONNECT_BACKOFF          1s                       doubles up to 10×
//	GATEWAY_MAX_IN_FLIGHT           256                      messages publishing to Kafka at once
//	GATEWAY_LEASE_TIMEOUT           5s
//
// plus the rivers SDK's variables (KAFKA_BROKERS, HTTP_ADDR, ...).
package gateway
