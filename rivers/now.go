package rivers

import (
	"context"
	"time"
)

// Now returns the time of the service's clock (see [WithClock]) for the
// delivery ctx belongs to, and the system clock's outside a delivery.
// Handlers that measure wall-clock time (how long a monitor has been
// caught up, say) use it so that tests with a manual clock drive them.
func Now(ctx context.Context) time.Time { return clockOf(ctx).Now() }
