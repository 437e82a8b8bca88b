// Package integration proves Watershed's delivery claims on a real Apache
// Kafka: the rapids conformance suite, a rivers service on real topics
// (dead letters, expiry, de-duplication), consumer groups under rebalance,
// a broker restart under load, interop with kcat (librdkafka) and
// SASL/SCRAM authentication.
//
// The package holds only tests and benchmarks (TestIntegration*,
// BenchmarkIntegration*). They run one after another on one shared broker:
// none of them calls t.Parallel, because the restart test stops that
// broker.
//
// # Which broker
//
// By default the tests use the servers of scripts/testenv/up.sh, read from
// the environment:
//
//	WATERSHED_TEST_KAFKA                 bootstrap address, e.g. 127.0.0.1:19092 (required)
//	WATERSHED_TEST_KAFKA_VERSION         the broker's version, logged by every test
//	WATERSHED_TEST_KAFKA_SASL            the SASL_PLAINTEXT listener, e.g. 127.0.0.1:19094
//	WATERSHED_TEST_KAFKA_SASL_USER       its SCRAM user
//	WATERSHED_TEST_KAFKA_SASL_PASSWORD   its password
//	WATERSHED_TEST_KAFKA_SASL_MECHANISM  SCRAM-SHA-512 or SCRAM-SHA-256
//	WATERSHED_TESTENV_KAFKA_SH           scripts/testenv/kafka.sh, to stop and start the broker
//	WATERSHED_TEST_KCAT                  the kcat binary
//
// When WATERSHED_TEST_KAFKA is unset the tests skip and say why; under
// CI=true they fail instead. A test whose optional variable is unset (SASL,
// kcat, the restart script) skips with the variable's name.
//
// With the build tag docker (scripts/test-docker.sh, `make test-docker`) the
// same tests run against containers started with testcontainers-go
// (apache/kafka), and skip with the reason when no Docker engine answers.
package integration
