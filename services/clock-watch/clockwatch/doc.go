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
package clockwatch
