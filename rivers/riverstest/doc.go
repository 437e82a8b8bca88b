// Package riverstest is the test kit of the rivers SDK.
//
// [New] runs a service in memory — its real pipeline over a [Bus], on a
// manual [Clock] — so a unit test feeds events to its rivers
// ([Kit.Send]), runs its timers and heartbeats ([Kit.Advance]), and
// inspects what it published ([Kit.Published]), dead-lettered
// ([Kit.DeadLetters]) and counted ([Kit.Metric]).
//
// For integration tests, [Kafkas] starts an embedded Kafka-protocol broker
// (and adds the real Kafka at $WATERSHED_TEST_KAFKA when set), with fresh
// topics, and [ServeKafka] runs a service on it; [Produce] and [Consume]
// write and read its topics, and [WaitFor] with [Metric] waits for the
// service to have handled what was produced.
//
// [RunTransportSuite] and [RunDedupSuite] are the conformance suites of the
// SDK's two pluggable parts: every [rivers.Transport] (the [Bus], the Kafka
// transport through [KafkaTransportFactory]) and every [rivers.DedupStore]
// (rivers.MemoryDedup, the Redis store of ponds/hot) passes them, and a
// transport or store of your own must too.
package riverstest
