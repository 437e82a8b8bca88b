// Package clockwatch flags sources whose clocks drift: for each ce_source
// it keeps the offsets between ce_time and the broker's record timestamp
// over a window of recent events, and when their median passes Threshold
// publishes system.clock.skew.v1 once; the source is re-armed when the
// median falls below ClearBelow (hysteresis). The median ignores single
// late or replayed events.
//
// The record timestamp is a reference only when the topics use
// message.timestamp.type=LogAppendTime (the broker's clock); with
// CreateTime it is the producer's send time, and the offset shows sources
// that stamp ce_time from another clock (a device, a gateway).
//
// # Simulated and replayed clocks
//
// A source is judged only while its ce_time advances at the record time's
// rate: over each span of CLOCK_RATE_SPAN of record time, ce_time must
// advance between 1/CLOCK_MAX_RATE and CLOCK_MAX_RATE times as much. The
// meter-simulator's grid clock (600x in watershed dev), the services that
// stamp its grid times on what they derive (usage, feeder loads, missed
// reads), and a replay of old events advance far faster: they run on
// another clock, not a skewed one, and raise nothing. This needs no marker
// from the producers, so every source on a simulated clock is told apart,
// whoever stamps it. A skewed producer advances at the wall clock's rate
// with an offset and is judged; a clock that steps (NTP) may look scaled
// for one span, which only delays its verdict by that span. Two spans in a
// row at the wall rate are needed before a source is judged: one can match
// by accident (a simulated source stalled while the ecosystem started).
//
// [Register] wires it into a rivers service: one passive river of every
// type per watched topic; the record timestamp comes from
// rivers.Delivery.RecordTime.
//
// Environment variables (defaults):
//
//	CLOCK_THRESHOLD      30s             median offset that flags a source
//	CLOCK_CLEAR_BELOW    CLOCK_THRESHOLD/2  re-arm below this
//	CLOCK_WINDOW         21              events per source in the median
//	CLOCK_MIN_SAMPLES    5               events before a source is judged
//	CLOCK_TOPICS         rivers,rapids   topics watched
//	CLOCK_FORGET_AFTER   1h              drop sources silent this long
//	CLOCK_RATE_SPAN      10s             record time over which a source's clock rate is measured
//	CLOCK_MAX_RATE       2               faster or slower than this: a simulated or replayed clock, not judged
package clockwatch
