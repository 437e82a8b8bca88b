package rivers

import (
	"context"
	"runtime/debug"
)

// Recoverer returns middleware that turns a panic in the handler into a
// *[PanicError] (permanent: the event is dead-lettered with class "panic").
// Every service has it innermost; add it again only around your own
// middleware that may panic.
func Recoverer() Middleware {
	return func(next Handler) Handler {
		return func(ctx context.Context, ev Event, pub Publisher) (err error) {
			defer func() {
				if v := recover(); v != nil {
					err = &PanicError{Value: v, Stack: debug.Stack()}
				}
			}()
			return next(ctx, ev, pub)
		}
	}
}
