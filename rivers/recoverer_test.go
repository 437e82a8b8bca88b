package rivers

import (
	"context"
	"errors"
	"testing"
)

func TestRecovererTurnsPanicsIntoPermanentErrors(t *testing.T) {
	sentinel := errors.New("boom")
	h := Recoverer()(func(context.Context, Event, Publisher) error { panic(sentinel) })
	err := h(context.Background(), Event{}, nil)
	var pe *PanicError
	if !errors.As(err, &pe) || !errors.Is(err, ErrPanic) || !IsPermanent(err) || !errors.Is(err, sentinel) {
		t.Fatalf("error %v: want a permanent *PanicError wrapping ErrPanic and the panic value", err)
	}
	if len(pe.Stack) == 0 {
		t.Error("no stack recorded")
	}
	ok := Recoverer()(func(context.Context, Event, Publisher) error { return nil })
	if err := ok(context.Background(), Event{}, nil); err != nil {
		t.Errorf("no panic: %v", err)
	}
}
