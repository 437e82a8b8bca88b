package billingestimator

import (
	"strings"
	"testing"
	"time"
)

func TestConfigFromEnvHistory(t *testing.T) {
	c, err := ConfigFromEnv()
	if err != nil || c.History != DefaultHistory || DefaultHistory != 840*time.Hour {
		t.Fatalf("default: %v %v, want %v", c.History, err, DefaultHistory)
	}
	t.Setenv("ESTIMATOR_HISTORY", "96h")
	if c, err := ConfigFromEnv(); err != nil || c.History != 96*time.Hour {
		t.Fatalf("ESTIMATOR_HISTORY=96h: %v %v", c.History, err)
	}
	t.Setenv("ESTIMATOR_HISTORY", "-1s") // everything retained
	if c, err := ConfigFromEnv(); err != nil || c.History != -time.Second {
		t.Fatalf("ESTIMATOR_HISTORY=-1s: %v %v", c.History, err)
	}
	t.Setenv("ESTIMATOR_HISTORY", "a month")
	if _, err := ConfigFromEnv(); err == nil || !strings.Contains(err.Error(), "ESTIMATOR_HISTORY") {
		t.Fatalf("ESTIMATOR_HISTORY=a month: %v, want an error naming it", err)
	}
}
