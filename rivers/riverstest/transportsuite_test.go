package riverstest_test

import (
	"testing"

	"github.com/watershed-grid/watershed/rivers"
	"github.com/watershed-grid/watershed/rivers/riverstest"
)

// TestBusTransportSuite: the in-memory Bus keeps the Transport contract.
func TestBusTransportSuite(t *testing.T) {
	riverstest.RunTransportSuite(t, func(t *testing.T, n int) (rivers.Transport, []string) {
		topics := make([]string, n)
		for i := range topics {
			topics[i] = "topic-" + string(rune('a'+i))
		}
		return riverstest.NewBus(), topics
	})
}
