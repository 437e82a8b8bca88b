package console

import (
	"context"
	"strconv"
	"sync"
	"time"

	"github.com/watershed-grid/watershed/contracts/events"
	"github.com/watershed-grid/watershed/rapids"
	"github.com/watershed-grid/watershed/rivers"
	"github.com/watershed-grid/watershed/rivers/deadletter"
)

// Rivers the console reads.
const (
	// RiverLive: every type on the rivers topic, for the live page. Passive:
	// watching is not demand.
	RiverLive = "console.live"
	// RiverOutages and RiverLoad feed the grid page. Active: a person looks
	// at outages and feeder load here, so the console is a reason to keep
	// publishing them.
	RiverOutages  = "console.outages"
	RiverRestored = "console.restored"
	RiverLoad     = "console.load"
	// RiverForecast feeds the grid page's forecast column. Active too.
	RiverForecast = "console.forecast"
	// RiverRetirements and RiverHealth feed the services page's history.
	// Passive.
	RiverRetirements = "console.retirements"
	RiverHealth      = "console.health"
)

// DeadLetters reads and replays dead letters (package rivers/deadletter on
// Kafka in the service; a fake in tests). Safe for concurrent use.
type DeadLetters interface {
	// Read returns every dead letter and replay marker on the topics when
	// it starts, oldest first per partition.
	Read(ctx context.Context) ([]deadletter.Letter, error)
	// Replay publishes the plan's letters to their origin topics with
	// replay markers, and returns how many were acknowledged.
	Replay(ctx context.Context, plan deadletter.Plan) (int, error)
}

// Console is the console service attached to a rivers service.
type Console struct {
	Server *Server
	kafka  *kafkaLetters
}

// Attach adds the console to svc: its rivers (see the River* names), and
// its pages mounted at / on the service's HTTP server (HTTP_ADDR, next to
// /healthz, /readyz and /metrics). Stopped closes its replay producer.
func Attach(svc *rivers.Service, cfg Config) (*Console, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	kcfg := svc.Config().Kafka
	topics := cfg.DLQTopics
	if len(topics) == 0 {
		topics = deadletter.DefaultTopics(kcfg)
	}
	kl := &kafkaLetters{cfg: kcfg, topics: topics, idle: cfg.DLQReadIdle}
	ring, grid := NewRing(cfg.RingSize), NewGrid(cfg.FeederHistory)
	Watch(svc, ring, grid)
	s := NewServer(cfg, ring, grid, kl)
	s.log = svc.Logger()
	svc.HandleHTTP("/*", s.Handler())
	return &Console{Server: s, kafka: kl}, nil
}

// Stopped closes the replay producer.
func (c *Console) Stopped(context.Context, error) error { return c.kafka.Close() }

// Watch feeds ring and grid from svc's rivers.
func Watch(svc *rivers.Service, ring *Ring, grid *Grid) {
	svc.Handle(rivers.NewRiver("*").Named(RiverLive).Passive(), func(_ context.Context, ev rivers.Event, _ rivers.Publisher) error {
		if ev.Type() == events.TypeHeartbeat {
			return nil // the services page shows heartbeats; here they would drown the rest
		}
		env := ev.Envelope()
		ring.Add(LiveEvent{ID: ev.ID(), Type: ev.Type(), Source: ev.Source(), Key: ev.Key(), Time: ev.OccurredAt(),
			Summary: events.Summarize(ev.Type(), env.Data)})
		return nil
	})
	svc.Handle(rivers.NewRiver(events.TypeOutageSuspected).Named(RiverOutages).
		Require("outage_id", "transformer_id", "detected_at").
		Interested("feeder_id", "meters_silent", "meters_total", "silent_share", "first_silent_at"),
		func(_ context.Context, ev rivers.Event, _ rivers.Publisher) error {
			var o events.OutageSuspected
			o.OutageID, _ = ev.String("outage_id")
			o.TransformerID, _ = ev.String("transformer_id")
			o.FeederID, _ = ev.String("feeder_id")
			o.MetersSilent, _ = ev.Strings("meters_silent")
			total, _ := ev.Int("meters_total")
			o.MetersTotal = int(total)
			o.SilentShare, _ = ev.Float("silent_share")
			o.FirstSilentAt, _ = ev.Time("first_silent_at")
			o.DetectedAt, _ = ev.Time("detected_at")
			grid.Suspected(o)
			return nil
		})
	svc.Handle(rivers.NewRiver(events.TypeOutageRestored).Named(RiverRestored).
		Require("outage_id", "transformer_id", "restored_at").
		Interested("feeder_id", "first_silent_at", "suspected_at", "duration_s", "meters_affected", "meters_still_silent"),
		func(_ context.Context, ev rivers.Event, _ rivers.Publisher) error {
			var o events.OutageRestored
			o.OutageID, _ = ev.String("outage_id")
			o.TransformerID, _ = ev.String("transformer_id")
			o.FeederID, _ = ev.String("feeder_id")
			o.FirstSilentAt, _ = ev.Time("first_silent_at")
			o.SuspectedAt, _ = ev.Time("suspected_at")
			o.RestoredAt, _ = ev.Time("restored_at")
			o.DurationSeconds, _ = ev.Float("duration_s")
			n, _ := ev.Int("meters_affected")
			o.MetersAffected = int(n)
			o.MetersStillSilent, _ = ev.Strings("meters_still_silent")
			grid.Restored(o)
			return nil
		})
	svc.Handle(rivers.NewRiver(events.TypeFeederLoad).Named(RiverLoad).
		Require("level", "start", "load_kw").Interested("id", "feeder_id", "end", "peak_load_kw", "energy_kwh"),
		func(_ context.Context, ev rivers.Event, _ rivers.Publisher) error {
			var l events.FeederLoad
			l.Level, _ = ev.String("level")
			l.ID, _ = ev.String("id")
			l.FeederID, _ = ev.String("feeder_id")
			l.Start, _ = ev.Time("start")
			l.End, _ = ev.Time("end")
			l.LoadKW, _ = ev.Float("load_kw")
			if p, err := ev.Float("peak_load_kw"); err == nil {
				l.PeakLoadKW = &p
			}
			l.EnergyKWh, _ = ev.Float("energy_kwh")
			grid.Load(l)
			return nil
		})
	svc.Handle(rivers.NewRiver(events.TypeFeederLoadForecast).Named(RiverForecast).
		Require("feeder_id", "model", "issued_at", "points").Interested("history_hours"),
		func(_ context.Context, ev rivers.Event, _ rivers.Publisher) error {
			var fc events.FeederLoadForecast
			if err := ev.Decode(&fc); err != nil {
				return err
			}
			grid.LoadForecast(fc)
			return nil
		})
	svc.Handle(rivers.NewRiver(events.TypeRetirement).Named(RiverRetirements).Passive().
		Require("service", "event_type", "phase").Interested("reason", "decided_at", "effective_at"),
		func(_ context.Context, ev rivers.Event, _ rivers.Publisher) error {
			var r events.Retirement
			r.Service, _ = ev.String("service")
			r.EventType, _ = ev.String("event_type")
			r.Phase, _ = ev.String("phase")
			r.Reason, _ = ev.String("reason")
			r.DecidedAt, _ = ev.Time("decided_at")
			r.EffectiveAt, _ = ev.Time("effective_at")
			if r.DecidedAt.IsZero() && r.EffectiveAt.IsZero() {
				r.DecidedAt = ev.OccurredAt()
			}
			grid.Retirement(r)
			return nil
		})
	svc.Handle(rivers.NewRiver(events.TypeServiceDown, events.TypeServiceUp).Named(RiverHealth).Passive().
		Require("service", "instance").Interested("missed_heartbeats", "version"),
		func(_ context.Context, ev rivers.Event, _ rivers.Publisher) error {
			n := HealthNote{At: ev.OccurredAt(), Up: ev.Type() == events.TypeServiceUp}
			n.Service, _ = ev.String("service")
			n.Instance, _ = ev.String("instance")
			if n.Up {
				n.Detail, _ = ev.String("version")
			} else if m, err := ev.Int("missed_heartbeats"); err == nil {
				n.Detail = strconv.FormatInt(m, 10) + " heartbeats missed"
			}
			grid.Health(n)
			return nil
		})
}

// kafkaLetters is DeadLetters on Kafka, with package rivers/deadletter.
type kafkaLetters struct {
	cfg    rapids.Config
	topics []string
	idle   time.Duration

	mu   sync.Mutex
	prod *rapids.Producer
}

func (k *kafkaLetters) Read(ctx context.Context) ([]deadletter.Letter, error) {
	return deadletter.Read(ctx, k.cfg, k.topics, k.idle)
}

func (k *kafkaLetters) Replay(ctx context.Context, plan deadletter.Plan) (int, error) {
	k.mu.Lock()
	if k.prod == nil {
		p, err := rapids.NewProducer(k.cfg)
		if err != nil {
			k.mu.Unlock()
			return 0, err
		}
		k.prod = p
	}
	p := k.prod
	k.mu.Unlock()
	return deadletter.Replay(ctx, p, plan)
}

func (k *kafkaLetters) Close() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.prod == nil {
		return nil
	}
	err := k.prod.Close()
	k.prod = nil
	return err
}
