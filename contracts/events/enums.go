package events

// Values of the enumerated payload properties. The catalog's schemas list
// the same values; a test keeps them in step.
const (
	// usage.interval.v1 period.
	PeriodHour = "hour"
	PeriodDay  = "day"

	// feeder.load.v1 level.
	LevelTransformer = "transformer"
	LevelFeeder      = "feeder"

	// system.retirement.v1 phase.
	PhaseNotice     = "notice"
	PhaseRetired    = "retired"
	PhaseReinstated = "reinstated"

	// meter.command.v1 command.
	CommandReadNow        = "read_now"
	CommandConnect        = "connect"
	CommandDisconnect     = "disconnect"
	CommandSetInterval    = "set_interval"
	CommandDisplayMessage = "display_message"

	// meter.command.ack.v1 status.
	AckAccepted  = "accepted"
	AckCompleted = "completed"
	AckFailed    = "failed"
	AckRejected  = "rejected"

	// meter.command.outcome.v1 outcome.
	OutcomeAcknowledged = "acknowledged"
	OutcomeFailed       = "failed"
	OutcomeExpired      = "expired"

	// Well-known meter.reading.v1 flags (the list is open: consumers must
	// tolerate others).
	FlagPowerFail        = "power_fail"
	FlagTamper           = "tamper"
	FlagClockInvalid     = "clock_invalid"
	FlagReverseFlow      = "reverse_flow"
	FlagRegisterRollover = "register_rollover"
)

// States of system.monitor.lagging.v1.
const (
	MonitorLaggingStateLagging   = "lagging"
	MonitorLaggingStateRecovered = "recovered"
)
