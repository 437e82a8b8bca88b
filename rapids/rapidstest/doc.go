// Package rapidstest is the conformance suite of Watershed's Kafka
// connection: every broker Watershed runs on (the embedded kfake broker,
// Apache Kafka, a managed Kafka) must pass RunConformance.
//
//	func TestConformance(t *testing.T) {
//		rapidstest.RunConformance(t, []string{"127.0.0.1:9092"},
//			rapidstest.WithRestart(func(t *testing.T) []string { return restartMyBroker(t) }))
//	}
//
// Each test creates its own topics and consumer groups with unique names,
// so the suite can run against a shared broker.
package rapidstest
