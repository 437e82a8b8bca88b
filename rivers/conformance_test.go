package rivers_test

import (
	"testing"

	"github.com/watershed-grid/watershed/rivers"
	"github.com/watershed-grid/watershed/rivers/riverstest"
)

// TestKafkaTransportSuite: the Kafka transport keeps the Transport
// contract, on the embedded broker and, when WATERSHED_TEST_KAFKA is set,
// on real Kafka; topics of three partitions.
func TestKafkaTransportSuite(t *testing.T) {
	for _, k := range riverstest.Kafkas(t) {
		t.Run(k.Name, func(t *testing.T) {
			riverstest.RunTransportSuite(t, riverstest.KafkaTransportFactory(k, 3))
		})
	}
}

// TestMemoryDedupSuite: the in-memory duplicate store keeps the DedupStore
// contract.
func TestMemoryDedupSuite(t *testing.T) {
	riverstest.RunDedupSuite(t, func(*testing.T) rivers.DedupStore { return rivers.NewMemoryDedup(0, 0, nil) })
}
