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
// The watermark knows the partitions it has been fed records from; a
// partition assigned to the service but never read from does not hold it
// (the SDK does not expose assignments). After a restart the checkpoint
// ([Watermark.MarshalBinary]) names the partitions: each holds the
// watermark at its last event time until it is read again, or until the
// service has read IdleAfter of record time since the restart without it.
//
// A single source with a wrong clock must not drag the watermark into the
// future: an event time more than [Config.MaxClockSkew] ahead of the latest
// plausible one is implausible and does not move it, until
// [Config.SkewConfirm] such times in a row show the whole stream moved (a
// simulator restarted at a later date); the watermark then moves to the
// earliest of them.
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
// rivers/lagwatch).
//
// Neither type reads a clock or depends on the shape of a handler: callers
// pass the times, so they work from per-event and batch handlers alike and
// are tested without a clock. Neither is safe for concurrent use.
package eventtime
