package dispatcher

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/watershed-grid/watershed/contracts"
	"github.com/watershed-grid/watershed/contracts/events"
	"github.com/watershed-grid/watershed/ponds/hot"
	"github.com/watershed-grid/watershed/rivers"
)

// Errors of bad input. Both are permanent: the event is dead-lettered with
// the message.
var (
	// ErrMalformedCommand: a request whose parameters do not fit its
	// command (set_interval without interval_s, ...).
	ErrMalformedCommand = errors.New("malformed command")
	// ErrUnknownMeter: a request for a meter the meter check does not know.
	ErrUnknownMeter = errors.New("unknown meter")
)

// MeterDirectory says whether a meter exists.
type MeterDirectory interface {
	// Known reports whether meterID is a meter; an error is transient.
	Known(ctx context.Context, meterID string) (bool, error)
}

// HotPondMeters is the MeterDirectory of the Redis hot pond: a meter is
// known once hot-pond stored a reading of it.
type HotPondMeters struct{ Pond *hot.Pond }

// Known implements MeterDirectory.
func (h HotPondMeters) Known(ctx context.Context, meterID string) (bool, error) {
	_, err := h.Pond.Latest(ctx, meterID)
	if errors.Is(err, hot.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// Service is the dispatcher registered on a rivers service.
type Service struct {
	cfg    Config
	svc    *rivers.Service
	store  Store
	meters MeterDirectory // nil: no check
	log    *slog.Logger

	requests, attempts, acks, ignored, outcomes metric.Int64Counter
}

// Register opens the Redis of cfg and adds the dispatcher to svc (see
// Attach). The returned function closes the Redis connection: call it after
// svc.Run returns.
func Register(ctx context.Context, svc *rivers.Service, cfg Config) (*Service, func() error, error) {
	if err := cfg.Validate(); err != nil {
		return nil, nil, err
	}
	pond, err := hot.Open(ctx, cfg.Redis, nil)
	if err != nil {
		return nil, nil, err
	}
	var meters MeterDirectory
	if cfg.MeterCheck == MeterCheckHotPond {
		meters = HotPondMeters{Pond: pond}
	}
	s, err := Attach(svc, cfg, NewRedisStore(pond.Client(), cfg.KeyPrefix), meters)
	if err != nil {
		_ = pond.Close()
		return nil, nil, err
	}
	svc.CheckReady("redis", func(ctx context.Context) error { return pond.Client().Ping(ctx).Err() })
	return s, pond.Close, nil
}

// Attach adds the dispatcher to svc with store and meters (nil: every
// meter is taken):
//
//   - river "requests": meter.command.requested.v1 → a command (bad input
//     is dead-lettered: ErrMalformedCommand, ErrUnknownMeter);
//   - river "missed" (Config.Reread): meter.reading.missed.v1 → a read_now
//     of the missed slot, command id "reread-" + events.ReadingID;
//   - river "acks": meter.command.ack.v1 → the command's outcome, or a
//     sooner replay after a failed ack;
//   - timer "dispatch" (Config.Tick): sends due attempts
//     (meter.command.v1), decides timeouts and use-bys, publishes outcomes
//     (meter.command.outcome.v1).
func Attach(svc *rivers.Service, cfg Config, store Store, meters MeterDirectory) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Service{cfg: cfg, svc: svc, store: store, meters: meters, log: svc.Logger()}
	m := svc.Meter()
	var errs [5]error
	s.requests, errs[0] = m.Int64Counter("watershed_commands_requested_total",
		metric.WithDescription("Command requests by origin (request, missed_read) and result (taken, duplicate, skipped)."))
	s.attempts, errs[1] = m.Int64Counter("watershed_command_attempts_total",
		metric.WithDescription("meter.command.v1 attempts published (a first send or a replay)."))
	s.acks, errs[2] = m.Int64Counter("watershed_command_acks_total",
		metric.WithDescription("meter.command.ack.v1 applied to a pending command, by status."))
	s.ignored, errs[3] = m.Int64Counter("watershed_command_acks_ignored_total",
		metric.WithDescription("Acks for no known command or one already decided, by reason (unknown, decided)."))
	s.outcomes, errs[4] = m.Int64Counter("watershed_command_outcomes_total",
		metric.WithDescription("meter.command.outcome.v1 published, by outcome."))
	if err := errors.Join(errs[:]...); err != nil {
		return nil, fmt.Errorf("command-dispatcher: metrics: %w", err)
	}
	svc.Handle(rivers.NewRiver(events.TypeMeterCommandRequested).Named("requests").
		Require("command_id", "meter_id", "command", "requested_by").
		Interested("parameters", "max_attempts", "ack_timeout_s"), s.handleRequest)
	if cfg.Reread {
		svc.Handle(rivers.NewRiver(events.TypeMeterReadingMissed).Named("missed").
			Require("meter_id", "expected_at", "consecutive_missed"), s.handleMissed)
	}
	svc.Handle(rivers.NewRiver(events.TypeMeterCommandAck).Named("acks").
		Require("command_id", "meter_id", "attempt", "status", "acked_at").Interested("reason"), s.handleAck)
	svc.Publishes(events.TypeMeterCommand, events.TypeMeterCommandOutcome)
	svc.Every(cfg.Tick, "dispatch", s.tick)
	return s, nil
}

// Store returns the dispatcher's store, for tests and tools.
func (s *Service) Store() Store { return s.store }

// validate checks that a request's parameters fit its command.
func validate(r events.MeterCommandRequested) error {
	p := r.Parameters
	var bad string
	switch r.Command {
	case events.CommandReadNow:
		if p.IntervalSeconds != 0 || p.Message != "" {
			bad = "read_now takes only parameters.read_at"
		}
	case events.CommandSetInterval:
		if p.IntervalSeconds <= 0 || p.Message != "" || !p.ReadAt.IsZero() {
			bad = "set_interval needs parameters.interval_s and nothing else"
		}
	case events.CommandDisplayMessage:
		if p.Message == "" || p.IntervalSeconds != 0 || !p.ReadAt.IsZero() {
			bad = "display_message needs parameters.message and nothing else"
		}
	case events.CommandConnect, events.CommandDisconnect:
		if p != (events.CommandParameters{}) {
			bad = r.Command + " takes no parameters"
		}
	default:
		bad = fmt.Sprintf("unknown command %q", r.Command)
	}
	if bad != "" {
		return fmt.Errorf("%w %s for meter %s: %s", ErrMalformedCommand, r.CommandID, r.MeterID, bad)
	}
	return nil
}

func (s *Service) handleRequest(ctx context.Context, ev rivers.Event, _ rivers.Publisher) error {
	var r events.MeterCommandRequested
	if err := ev.Decode(&r); err != nil {
		return err
	}
	if err := validate(r); err != nil {
		return rivers.Permanent(err)
	}
	if s.meters != nil {
		ok, err := s.meters.Known(ctx, r.MeterID)
		if err != nil {
			return fmt.Errorf("command-dispatcher: meter check of %s: %w", r.MeterID, err) // transient: retried
		}
		if !ok {
			return rivers.Permanent(fmt.Errorf("%w %s: command %s (%s) refused: no reading of it in the hot pond",
				ErrUnknownMeter, r.MeterID, r.CommandID, r.Command))
		}
	}
	if r.MaxAttempts == 0 {
		r.MaxAttempts = s.cfg.MaxAttempts
	}
	if r.AckTimeoutSeconds == 0 {
		r.AckTimeoutSeconds = s.cfg.AckTimeout.Seconds()
	}
	return s.take(ctx, "request", &Record{Request: r, ExpiresAt: ev.ExpiryTime(), RequestID: ev.ID()})
}

// missed is what the dispatcher reads of meter.reading.missed.v1.
type missed struct {
	MeterID           string    `json:"meter_id"`
	ExpectedAt        time.Time `json:"expected_at"`
	ConsecutiveMissed int       `json:"consecutive_missed"`
}

// RereadID is the command id of the re-read of a missed slot: one per
// meter and slot, however often the slot is declared missed.
func RereadID(meterID string, readAt time.Time) string {
	return "reread-" + events.ReadingID(meterID, readAt)
}

func (s *Service) handleMissed(ctx context.Context, ev rivers.Event, _ rivers.Publisher) error {
	var m missed
	if err := ev.Decode(&m); err != nil {
		return err
	}
	if m.ConsecutiveMissed > s.cfg.RereadMaxConsecutive {
		s.requests.Add(ctx, 1, metric.WithAttributes(attribute.String("origin", "missed_read"), attribute.String("result", "skipped")))
		return nil
	}
	r := events.MeterCommandRequested{
		CommandID: RereadID(m.MeterID, m.ExpectedAt), MeterID: m.MeterID, Command: events.CommandReadNow,
		Parameters:  events.CommandParameters{ReadAt: m.ExpectedAt.UTC()},
		RequestedBy: Source, MaxAttempts: s.cfg.RereadAttempts, AckTimeoutSeconds: s.cfg.RereadAckTimeout.Seconds(),
	}
	if r.MaxAttempts == 0 {
		r.MaxAttempts = s.cfg.MaxAttempts
	}
	if r.AckTimeoutSeconds == 0 {
		r.AckTimeoutSeconds = s.cfg.AckTimeout.Seconds()
	}
	return s.take(ctx, "missed_read", &Record{Request: r, ExpiresAt: ev.ExpiryTime(), RequestID: ev.ID()})
}

// take stores a new command, due at once; a known command id is a
// duplicate and changes nothing.
func (s *Service) take(ctx context.Context, origin string, r *Record) error {
	now := rivers.Now(ctx)
	r.RequestedAt = now
	created, err := s.store.Create(ctx, r, now)
	if err != nil {
		return err // transient: retried, then dead-lettered with the Redis error
	}
	result := "taken"
	if !created {
		result = "duplicate"
	}
	s.requests.Add(ctx, 1, metric.WithAttributes(attribute.String("origin", origin), attribute.String("result", result)))
	return nil
}

// conflictRetries bounds the read-modify-write loops against concurrent
// changes of one command.
const conflictRetries = 8

func (s *Service) handleAck(ctx context.Context, ev rivers.Event, _ rivers.Publisher) error {
	var a events.MeterCommandAck
	if err := ev.Decode(&a); err != nil {
		return err
	}
	for range conflictRetries {
		r, err := s.store.Get(ctx, a.CommandID)
		if errors.Is(err, ErrNotFound) {
			s.ignored.Add(ctx, 1, metric.WithAttributes(attribute.String("reason", "unknown")))
			rivers.Logger(ctx).Debug("ack for an unknown command ignored", "command_id", a.CommandID, "meter_id", a.MeterID)
			return nil
		}
		if err != nil {
			return err
		}
		if r.Request.MeterID != a.MeterID {
			return rivers.Permanent(fmt.Errorf("ack of command %s names meter %s, the command is for meter %s",
				a.CommandID, a.MeterID, r.Request.MeterID))
		}
		if r.Outcome != nil {
			s.ignored.Add(ctx, 1, metric.WithAttributes(attribute.String("reason", "decided")))
			return nil
		}
		now := rivers.Now(ctx)
		ack := a
		r.LastAck = &ack
		due := now // decided: the timer publishes the outcome
		switch a.Status {
		case events.AckAccepted, events.AckCompleted:
			s.decide(r, events.OutcomeAcknowledged, "", now)
		case events.AckRejected:
			s.decide(r, events.OutcomeFailed, "rejected by the meter: "+orUnknown(a.Reason), now)
		default: // failed: replay after the backoff, unless it was the last attempt
			if r.Attempt >= r.Request.MaxAttempts {
				s.decide(r, events.OutcomeFailed, fmt.Sprintf("the meter failed attempt %d of %d: %s",
					a.Attempt, r.Request.MaxAttempts, orUnknown(a.Reason)), now)
			} else {
				due = r.until(now.Add(s.cfg.backoff(r.Attempt)))
			}
		}
		err = s.store.Put(ctx, r, due, s.cfg.Retention)
		if errors.Is(err, ErrConflict) {
			continue
		}
		if err != nil {
			return err
		}
		s.acks.Add(ctx, 1, metric.WithAttributes(attribute.String("status", a.Status)))
		return nil
	}
	return fmt.Errorf("ack of command %s: %w %d times", a.CommandID, ErrConflict, conflictRetries)
}

func orUnknown(reason string) string {
	if reason == "" {
		return "no reason given"
	}
	return reason
}

// decide sets r's outcome.
func (s *Service) decide(r *Record, outcome, reason string, now time.Time) {
	o := &events.MeterCommandOutcome{
		CommandID: r.Request.CommandID, MeterID: r.Request.MeterID, Command: r.Request.Command,
		Parameters: r.Request.Parameters, Outcome: outcome, Reason: reason,
		Attempts: r.Attempt, MaxAttempts: r.Request.MaxAttempts,
		RequestedBy: r.Request.RequestedBy, RequestedAt: r.RequestedAt.UTC(), DecidedAt: now.UTC(),
	}
	if r.LastAck != nil {
		o.AckStatus, o.AckedAt = r.LastAck.Status, r.LastAck.AckedAt.UTC()
	}
	r.Outcome = o
}

// until returns t, or the use-by when it comes first: a command is due at
// its use-by, to end expired then.
func (r *Record) until(t time.Time) time.Time {
	if !r.ExpiresAt.IsZero() && r.ExpiresAt.Before(t) {
		return r.ExpiresAt
	}
	return t
}

// AttemptID is the ce_id of attempt n of a command: a republished attempt
// (after a restart, or by two instances) is the same event, dropped as a
// duplicate by its consumers.
func AttemptID(commandID string, n int) string { return fmt.Sprintf("%s#%d", commandID, n) }

// OutcomeID is the ce_id of a command's outcome.
func OutcomeID(commandID string) string { return commandID + "#outcome" }

// tick handles the commands that are due, Config.Concurrency at a time.
func (s *Service) tick(ctx context.Context, now time.Time, _ rivers.Publisher) error {
	ids, err := s.store.Due(ctx, now, s.cfg.Batch)
	if err != nil {
		return err
	}
	sem := make(chan struct{}, s.cfg.Concurrency)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	for _, id := range ids {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := s.step(ctx, id, now); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(errs) > 0 {
		// Everything stays scheduled: the next tick tries again.
		s.log.WarnContext(ctx, "commands not advanced; trying again next tick", "failed", len(errs), "first_error", errs[0])
	}
	return nil
}

// step moves one due command on: publish its decided outcome, decide it
// (use-by passed, attempts exhausted), or send its next attempt. Each
// publication precedes the write that records it, and has a deterministic
// id, so a crash in between repeats it under the same id: never lost,
// de-duplicated downstream.
func (s *Service) step(ctx context.Context, id string, now time.Time) error {
	for range conflictRetries {
		r, err := s.store.Get(ctx, id)
		if err != nil {
			return err
		}
		var due time.Time // zero: off the schedule (finished)
		switch {
		case r.Outcome != nil && r.Published:
		case r.Outcome != nil:
			err := s.svc.Publish(ctx, events.TypeMeterCommandOutcome,
				contracts.Identified{ID: OutcomeID(id), Data: r.Outcome}, rivers.WithKey(r.Request.MeterID))
			if err != nil && !errors.Is(err, rivers.ErrRetired) {
				return fmt.Errorf("publish outcome of %s: %w", id, err)
			}
			r.Published = true
			s.outcomes.Add(ctx, 1, metric.WithAttributes(attribute.String("outcome", r.Outcome.Outcome)))
		case !r.ExpiresAt.IsZero() && !now.Before(r.ExpiresAt):
			s.decide(r, events.OutcomeExpired, fmt.Sprintf("use-by %s passed after %d of %d attempts",
				r.ExpiresAt.UTC().Format(time.RFC3339), r.Attempt, r.Request.MaxAttempts), now)
			due = now
		case r.Attempt >= r.Request.MaxAttempts:
			reason := fmt.Sprintf("no ack after %d attempts (ack timeout %gs each)", r.Attempt, r.Request.AckTimeoutSeconds)
			if r.LastAck != nil && r.LastAck.Status == events.AckFailed {
				reason = fmt.Sprintf("the meter failed it (attempt %d): %s; no ack to the %d attempts after",
					r.LastAck.Attempt, orUnknown(r.LastAck.Reason), r.Attempt-r.LastAck.Attempt)
			}
			s.decide(r, events.OutcomeFailed, reason, now)
			due = now
		default:
			n := r.Attempt + 1
			cmd := events.MeterCommand{
				CommandID: id, MeterID: r.Request.MeterID, Command: r.Request.Command, Parameters: r.Request.Parameters,
				IssuedAt: r.RequestedAt.UTC(), Attempt: n, MaxAttempts: r.Request.MaxAttempts,
				AckTimeoutSeconds: r.Request.AckTimeoutSeconds, RequestedBy: r.Request.RequestedBy,
			}
			opts := []rivers.PublishOption{rivers.WithKey(r.Request.MeterID)}
			if !r.ExpiresAt.IsZero() {
				opts = append(opts, rivers.WithExpiry(r.ExpiresAt))
			}
			err := s.svc.Publish(ctx, events.TypeMeterCommand, contracts.Identified{ID: AttemptID(id, n), Data: cmd}, opts...)
			if errors.Is(err, rivers.ErrRetired) {
				s.decide(r, events.OutcomeFailed, "meter.command.v1 is retired: no gateway or meter subscribes to commands", now)
				due = now
				break
			}
			if err != nil {
				return fmt.Errorf("publish attempt %d of %s: %w", n, id, err)
			}
			s.attempts.Add(ctx, 1)
			r.Attempt, r.SentAt = n, now
			timeout := time.Duration(r.Request.AckTimeoutSeconds * float64(time.Second))
			due = r.until(now.Add(timeout + s.cfg.backoff(n)))
		}
		err = s.store.Put(ctx, r, due, s.cfg.Retention)
		if errors.Is(err, ErrConflict) {
			continue // an ack came in between: look again
		}
		return err
	}
	return fmt.Errorf("command %s: %w %d times", id, ErrConflict, conflictRetries)
}
