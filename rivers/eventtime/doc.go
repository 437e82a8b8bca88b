// Package eventtime is the event-time clock of services that reason about
// time: watermarks per input partition, idle partitions, allowed lateness
// and the windows that close on the watermark, and the read progress a
// monitor needs to know whether it is behind.
//
// The rule it implements (architecture: "Event time decides"): a
// conclusion follows from the events' own times and from what the service
// has read, never from how far behind it is. Lag may make a conclusion
// late; it must never make it different.
//
// # Watermark
//
// A [Watermark] is fed every event a service reasons about, with the
// partition it came from and what the SDK says about that record
// (rivers.Delivery: Partition, Behind, RecordTime):
//
//	d, _ := rivers.DeliveryFrom(ctx)
//	ok := wm.Observe(d.Partition, readAt, d.Behind, d.RecordTime)
//
// Its [Watermark.Value] is the low watermark: the lowest, over the
// partitions that are not idle, of each partition's latest plausible event
// time. It only moves forward. A window ending at E closes once
// Value() ≥ E + allowed lateness ([Watermark.ClosedThrough]).
//
// A partition is idle only when the service has read it to its end and has
// since read, from other partitions, records stamped [Config.IdleAfter] or
// more after its last one (record times are the broker's timestamps):
// nothing came, as far as what the service has read can tell. A partition
// whose last record had records behind it (Behind > 0) is never idle and
// holds the watermark back however long it stalls: its meters are not
// silent, the service has simply not read them yet. Record times rather
// than the reader's wall clock decide idleness, so a consumer that stalls
// as a whole (a loaded machine, a pause) makes no partition idle.
//
// With [Config.Assigned] (rivers: Service.Assigned) the watermark knows the
// partitions assigned to the service: one not read yet holds it until it is
// read or is idle as a partition read to its end is, and one a rebalance
// took away stops holding it. Without, only partitions read from count.
// After a restart the checkpoint
// ([Watermark.MarshalBinary]) names the partitions: each holds the
// watermark at its last event time until it is read again, or until the
// service has read IdleAfter of record time since the restart without it.
//
// A single source with a wrong clock must not drag the watermark into the
// future: an event time more than [Config.MaxClockSkew] ahead of the latest
// plausible one of its partition is implausible and does not move it, until
// [Config.SkewConfirm] such times in a row show the stream moved (a
// simulator restarted at a later date). Each partition is judged against
// itself: a consumer catching up reads one partition hours ahead of
// another, which is no wrong clock.
//
// # Progress
//
// A [Progress] is the read position of a monitor on the topic it watches:
// per partition, the newest record time read, the records behind its last
// one and when the monitor last reached its end. [Progress.Position] is the
// clock a monitor judges ages against: everything published before it has
// been read. A partition is lagging when records were behind its last one
// for longer than a tolerance (a batch being read is not lag); the monitor
// is caught up when no partition is lagging and none was for a settling
// time ([Progress.CaughtUp]). Until then it withholds verdicts (see package
// rivers/lagwatch). Behind describes the batch a record came in only; the
// SDK's checks of the broker's end offsets ([Progress.SetUnread], fed by
// lagwatch from rivers.Service.Unread) tell of records appended since, and
// [Progress.ReadThrough], the time monitors judge against, waits for them.
//
// Neither type reads a clock or depends on the shape of a handler: callers
// pass the times, so they work from per-event and batch handlers alike and
// are tested without a clock. Neither is safe for concurrent use.
package eventtime
