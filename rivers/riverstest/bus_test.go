package riverstest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/watershed-grid/watershed/rivers"
)

func TestBusRedeliversWhatWasNotCommitted(t *testing.T) {
	b := NewBus()
	ctx := context.Background()
	for i := range 5 {
		if err := b.Publish(ctx, rivers.Record{Topic: "t", Value: []byte{byte('0' + i)}}); err != nil {
			t.Fatal(err)
		}
	}
	sub, _ := b.Subscribe(ctx, "g", []string{"t"})
	var got []rivers.Record
	for range 3 {
		r, err := sub.Fetch(ctx)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, r)
	}
	if got[2].Offset != 2 || string(got[2].Value) != "2" {
		t.Fatalf("third record %+v", got[2])
	}
	_ = sub.Commit(ctx, got[1])
	_ = sub.Commit(ctx, got[0]) // lower: no effect
	if b.Committed("g", "t") != 2 {
		t.Fatalf("committed %d, want 2", b.Committed("g", "t"))
	}
	if l := sub.(interface{ Lag() int64 }).Lag(); l != 3 {
		t.Errorf("lag %d, want 3", l)
	}
	_ = sub.Close()
	if _, err := sub.Fetch(ctx); !errors.Is(err, ErrBusClosed) {
		t.Errorf("Fetch after Close: %v", err)
	}
	next, _ := b.Subscribe(ctx, "g", []string{"t"})
	r, err := next.Fetch(ctx)
	if err != nil || r.Offset != 2 {
		t.Fatalf("the next member starts at %d (%v), want the first uncommitted, 2", r.Offset, err)
	}
	other, _ := b.Subscribe(ctx, "other", []string{"t"})
	if r, _ := other.Fetch(ctx); r.Offset != 0 {
		t.Errorf("a new group starts at %d, want 0", r.Offset)
	}
}

func TestBusFetchWaitsAndHonoursContext(t *testing.T) {
	b := NewBus()
	sub, _ := b.Subscribe(context.Background(), "g", []string{"a", "b"})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := sub.Fetch(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Fetch on an empty bus: %v", err)
	}
	go func() {
		time.Sleep(5 * time.Millisecond)
		_, _ = b.Append(rivers.Record{Topic: "b", Value: []byte("x")})
	}()
	r, err := sub.Fetch(context.Background())
	if err != nil || r.Topic != "b" {
		t.Fatalf("Fetch = %+v, %v", r, err)
	}
	boom := errors.New("broker down")
	b.FailPublish(boom)
	if err := b.Publish(context.Background(), rivers.Record{Topic: "a"}); !errors.Is(err, boom) {
		t.Errorf("injected failure: %v", err)
	}
	if err := b.Publish(context.Background(), rivers.Record{Topic: "a"}); err != nil {
		t.Errorf("after the injected failure: %v", err)
	}
	if err := b.Publish(context.Background(), rivers.Record{}); !rivers.IsPermanent(err) {
		t.Errorf("record without topic: %v, want permanent", err)
	}
	_ = b.Close()
	if err := b.Publish(context.Background(), rivers.Record{Topic: "a"}); !errors.Is(err, ErrBusClosed) {
		t.Errorf("Publish on a closed bus: %v", err)
	}
}

func TestClockRunsDueTimersInOrder(t *testing.T) {
	c := NewClock(Start)
	var order []string
	c.AfterFunc(2*time.Minute, func() { order = append(order, "b@"+c.Now().Sub(Start).String()) })
	c.AfterFunc(time.Minute, func() {
		order = append(order, "a@"+c.Now().Sub(Start).String())
		c.AfterFunc(30*time.Second, func() { order = append(order, "a2@"+c.Now().Sub(Start).String()) })
	})
	stop := c.AfterFunc(90*time.Second, func() { order = append(order, "stopped") })
	if !stop() || stop() {
		t.Error("stop reports wrongly")
	}
	c.AfterFunc(time.Hour, func() { order = append(order, "later") })
	c.Advance(2 * time.Minute)
	want := "a@1m0s a2@1m30s b@2m0s"
	if got := joined(order); got != want {
		t.Errorf("ran %q, want %q", got, want)
	}
	if !c.Now().Equal(Start.Add(2*time.Minute)) || c.Pending() != 1 {
		t.Errorf("now %s pending %d", c.Now(), c.Pending())
	}
	if err := c.Sleep(context.Background(), time.Hour); err != nil || !c.Now().Equal(Start.Add(2*time.Minute)) {
		t.Error("Sleep moved time or failed")
	}
}

func joined(ss []string) string {
	out := ""
	for i, s := range ss {
		if i > 0 {
			out += " "
		}
		out += s
	}
	return out
}
