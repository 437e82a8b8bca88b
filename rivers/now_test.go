package rivers_test

import (
	"context"
	"testing"
	"time"

	"github.com/watershed-grid/watershed/contracts/events"
	"github.com/watershed-grid/watershed/rivers"
	"github.com/watershed-grid/watershed/rivers/riverstest"
)

func TestNowIsTheServiceClock(t *testing.T) {
	svc, err := rivers.NewService(rivers.Config{Name: "now-test", Version: "v0.0.0-test", HTTPAddr: "off", LogLevel: "error"})
	if err != nil {
		t.Fatal(err)
	}
	var got time.Time
	svc.Handle(rivers.NewRiver(events.TypeServiceStopping).Named("stopping"), func(ctx context.Context, _ rivers.Event, _ rivers.Publisher) error {
		got = rivers.Now(ctx)
		return nil
	})
	k := riverstest.New(t, svc)
	k.Advance(time.Hour)
	k.Send(k.Event(events.TypeServiceStopping, events.ServiceStopping{Service: "x", Version: "1.0.0", Instance: "x-1", Reason: "test"}))
	if dl := k.DeadLetters(); len(dl) > 0 {
		t.Fatalf("dead letters: %+v", dl)
	}
	if want := riverstest.Start.Add(time.Hour); !got.Equal(want) {
		t.Errorf("Now in a handler = %v, want the kit's clock %v", got, want)
	}
	if d := time.Since(rivers.Now(context.Background())); d < 0 || d > time.Minute {
		t.Errorf("Now outside a delivery is %v from the system clock", d)
	}
}
