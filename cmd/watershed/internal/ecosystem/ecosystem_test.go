package ecosystem

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/watershed-grid/watershed/rapids"
	"github.com/watershed-grid/watershed/rivers"
)

// TestMembersAreDistinctInstancesAndRestartAsNewOnes: services sharing the
// process must not share an instance id (the registry and the heartbeat
// monitor tell instances apart by it), and a crashed member comes back as a
// new instance after a backoff. A failing Setup is the crash here, so no
// broker is needed.
func TestMembersAreDistinctInstancesAndRestartAsNewOnes(t *testing.T) {
	var mu sync.Mutex
	seen := map[string][]string{} // member → instance ids, one per run
	crash := func(name string) Member {
		return Member{Name: name, Version: "v1.2.3", Setup: func(svc *rivers.Service) error {
			mu.Lock()
			defer mu.Unlock()
			seen[name] = append(seen[name], svc.Config().Instance)
			return errors.New("boom")
		}}
	}
	eco, err := New(Options{
		Kafka:      rapids.Config{Brokers: []string{"127.0.0.1:1"}},
		MinBackoff: 5 * time.Millisecond,
		MaxBackoff: 10 * time.Millisecond,
	}, crash("alpha"), crash("beta"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- eco.Run(ctx) }()

	deadline := time.Now().Add(20 * time.Second)
	for {
		mu.Lock()
		enough := len(seen["alpha"]) >= 3 && len(seen["beta"]) >= 3
		mu.Unlock()
		if enough {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("members were not restarted: runs %v", seen)
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}

	mu.Lock()
	defer mu.Unlock()
	ids := map[string]string{}
	for name, runs := range seen {
		for _, id := range runs {
			if other, dup := ids[id]; dup {
				t.Fatalf("instance id %q used twice (%s and %s): runs %v", id, other, name, seen)
			}
			ids[id] = name
		}
	}
	for _, st := range eco.Statuses() {
		if st.Restarts < 2 || st.LastErr == "" || st.Version != "v1.2.3" {
			t.Errorf("status %+v: want ≥ 2 restarts, the last error and the version", st)
		}
	}
}
