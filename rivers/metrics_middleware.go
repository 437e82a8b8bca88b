package rivers

import (
	"context"
	"time"
)

// metricsMiddleware records each delivery's run time, retries included, in
// watershed_handler_duration_seconds (and timer runs in
// watershed_timer_runs_total), labelled with its river or timer, type and
// outcome. It is the outermost middleware of every river and timer.
func (s *Service) metricsMiddleware() Middleware {
	return func(next Handler) Handler {
		return func(ctx context.Context, ev Event, pub Publisher) error {
			start := time.Now()
			err := next(ctx, ev, pub)
			if isRetired(err) {
				err = nil
			}
			d := deliveryOf(ctx)
			switch {
			case d == nil:
			case d.metrics != nil:
				o := d.metrics.durOK
				if err != nil {
					o = d.metrics.durErr
				}
				s.tel.duration.Record(context.Background(), time.Since(start).Seconds(), o)
			default:
				s.tel.observeHandler(d.River, d.Timer, d.Type, err, time.Since(start))
			}
			return err
		}
	}
}
