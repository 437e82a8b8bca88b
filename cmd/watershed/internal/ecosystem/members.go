package ecosystem

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/watershed-grid/watershed/ponds/archiver"
	"github.com/watershed-grid/watershed/rivers"
	"github.com/watershed-grid/watershed/services/alert-router/alertrouter"
	"github.com/watershed-grid/watershed/services/billing-estimator/billingestimator"
	"github.com/watershed-grid/watershed/services/clock-watch/clockwatch"
	"github.com/watershed-grid/watershed/services/command-dispatcher/dispatcher"
	"github.com/watershed-grid/watershed/services/console/console"
	"github.com/watershed-grid/watershed/services/demand-tracker/demandtracker"
	"github.com/watershed-grid/watershed/services/dlq-replayer/dlq"
	"github.com/watershed-grid/watershed/services/feeder-aggregator/feederagg"
	"github.com/watershed-grid/watershed/services/gap-detector/gapdetector"
	"github.com/watershed-grid/watershed/services/heartbeat-monitor/heartbeatmonitor"
	"github.com/watershed-grid/watershed/services/hot-pond/hotpond"
	"github.com/watershed-grid/watershed/services/meter-simulator/simulator"
	"github.com/watershed-grid/watershed/services/mqtt-gateway/gateway"
	"github.com/watershed-grid/watershed/services/outage-detector/outage"
	"github.com/watershed-grid/watershed/services/reading-validator/validator"
	"github.com/watershed-grid/watershed/services/registry/registry"
	"github.com/watershed-grid/watershed/services/river-archiver/riverarchiver"
	"github.com/watershed-grid/watershed/services/usage-aggregator/usage"
)

// DevOptions are what `watershed dev` changes in the services' own
// configurations, which otherwise come from their environment variables
// exactly as when each runs as its own process.
type DevOptions struct {
	// DataDir holds everything the ecosystem keeps: checkpoints and ponds.
	DataDir string
	// Meters and Speed override the simulator's fleet size and clock
	// speed-up when positive (SIM_METERS, SIM_SPEED otherwise).
	Meters int
	Speed  float64
	// MQTT runs the mqtt-gateway (it needs a broker at MQTT_URL).
	MQTT bool
	// Versions maps a service name to the version its heartbeats report.
	Versions map[string]string
	// RedisURL is the Redis of hot-pond and command-dispatcher when
	// REDIS_URL is unset (`watershed dev` starts an in-process one); empty
	// leaves both out unless REDIS_URL is set.
	RedisURL string
	// Simulator, when set, replaces the simulator's configuration entirely
	// (the end-to-end tests script a scenario with it).
	Simulator *simulator.Config
	// Addr returns a member's HTTP host:port once the ecosystem is made
	// (Ecosystem.Statuses); the console reads the registry, demand tracker,
	// hot pond and alert-router there unless CONSOLE_*_URL say otherwise. Nil leaves the
	// console out.
	Addr func(service string) string
	// ConsoleUsers may sign in to the console when CONSOLE_USERS and
	// CONSOLE_USERS_FILE are unset.
	ConsoleUsers []console.User
}

// Members returns the services of the ecosystem, configured from the
// environment with opts applied. A configuration error names the variable.
func Members(opts DevOptions) ([]Member, error) {
	var members []Member
	var errs []error
	add := func(name string, setup func(*rivers.Service) error) {
		members = append(members, Member{Name: name, Version: opts.Versions[name], Setup: setup})
	}
	// member wires one service: its config is read once, at start, so a bad
	// value fails `watershed dev` immediately instead of in a restart loop.
	member := func(name string, load func() (func(*rivers.Service) error, error)) {
		setup, err := load()
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
			return
		}
		add(name, setup)
	}

	// configure sets the Configure hook of the member just added, if it was.
	configure := func(name string, f func(*rivers.Config)) {
		if len(members) > 0 && members[len(members)-1].Name == name {
			members[len(members)-1].Configure = f
		}
	}

	// stopped sets the Stopped hook of the member just added, if it was.
	stopped := func(name string, f func(ctx context.Context, runErr error) error) {
		if len(members) > 0 && members[len(members)-1].Name == name {
			members[len(members)-1].Stopped = f
		}
	}

	member(simulator.Name, func() (func(*rivers.Service) error, error) {
		cfg, err := simulator.ConfigFromEnv()
		if opts.Simulator != nil {
			cfg, err = *opts.Simulator, nil
		}
		if err != nil {
			return nil, err
		}
		if opts.Meters > 0 && opts.Simulator == nil {
			cfg.Fleet.Meters = opts.Meters
		}
		if opts.Speed > 0 && opts.Simulator == nil {
			cfg.Speed = opts.Speed
		}
		if cfg.Checkpoint == "" && opts.Simulator == nil && opts.DataDir != "" {
			// A restarted `watershed dev` continues the grid clock.
			dir := filepath.Join(opts.DataDir, "checkpoints")
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return nil, err
			}
			cfg.Checkpoint = filepath.Join(dir, simulator.Name+".json")
		}
		return func(svc *rivers.Service) error { return simulator.Register(svc, cfg) }, cfg.Validate()
	})
	if opts.MQTT {
		member(gateway.Name, func() (func(*rivers.Service) error, error) {
			cfg, err := gateway.ConfigFromEnv()
			return func(svc *rivers.Service) error { return gateway.Register(svc, cfg) }, err
		})
	}
	member(validator.Name, func() (func(*rivers.Service) error, error) {
		cfg, err := validator.ConfigFromEnv()
		return func(svc *rivers.Service) error { return validator.Register(svc, cfg) }, err
	})
	var gap *gapdetector.Detector // of the current run
	member(gapdetector.Name, func() (func(*rivers.Service) error, error) {
		cfg, err := gapdetector.ConfigFromEnv()
		if err == nil && cfg.CheckpointDir == "" && cfg.Checkpoints == nil && opts.DataDir != "" {
			cfg.CheckpointDir = filepath.Join(opts.DataDir, "checkpoints")
			err = os.MkdirAll(cfg.CheckpointDir, 0o755)
		}
		return func(svc *rivers.Service) error {
			d, err := gapdetector.Attach(svc, cfg)
			gap = d
			return err
		}, err
	})
	// The final checkpoint is still saved, not restored: a restart of
	// `watershed dev` rebuilds the detector's state from the rapids'
	// history (rivers.PartitionState), exact after any stop.
	stopped(gapdetector.Name, func(ctx context.Context, runErr error) error {
		if gap == nil {
			return nil
		}
		return gap.Stopped(ctx, runErr)
	})
	var agg *usage.Service // of the current run
	member(usage.Name, func() (func(*rivers.Service) error, error) {
		cfg, err := usage.ConfigFromEnv()
		if err == nil && cfg.CheckpointDir == "" && opts.DataDir != "" {
			cfg.CheckpointDir = filepath.Join(opts.DataDir, "checkpoints")
			err = os.MkdirAll(cfg.CheckpointDir, 0o755)
		}
		return func(svc *rivers.Service) error {
			s, err := usage.Attach(svc, cfg)
			agg = s
			return err
		}, err
	})
	stopped(usage.Name, func(ctx context.Context, runErr error) error {
		if agg == nil {
			return nil
		}
		return agg.Stopped(ctx, runErr)
	})
	// feeder-aggregator keeps no checkpoint: each partition's state is
	// rebuilt from its history when assigned (rivers.PartitionState).
	member(feederagg.Name, func() (func(*rivers.Service) error, error) {
		cfg, err := feederagg.ConfigFromEnv()
		return func(svc *rivers.Service) error { return feederagg.Register(svc, cfg) }, err
	})
	var out *outage.Service // of the current run
	member(outage.Name, func() (func(*rivers.Service) error, error) {
		cfg, err := outage.ConfigFromEnv()
		if err == nil && cfg.CheckpointDir == "" && opts.DataDir != "" {
			cfg.CheckpointDir = filepath.Join(opts.DataDir, "checkpoints")
			err = os.MkdirAll(cfg.CheckpointDir, 0o755)
		}
		return func(svc *rivers.Service) error {
			s, err := outage.Attach(svc, cfg)
			out = s
			return err
		}, err
	})
	stopped(outage.Name, func(ctx context.Context, runErr error) error {
		if out == nil {
			return nil
		}
		return out.Stopped(ctx, runErr)
	})
	member(archiver.Name, func() (func(*rivers.Service) error, error) {
		cfg, err := archiver.ConfigFromEnv()
		if _, set := os.LookupEnv(archiver.EnvPondsURL); !set && opts.DataDir != "" {
			cfg.PondsURL = filepath.Join(opts.DataDir, "pond")
		}
		return func(svc *rivers.Service) error { return archiver.Register(svc, cfg) }, err
	})
	member(riverarchiver.Name, func() (func(*rivers.Service) error, error) {
		cfg, err := riverarchiver.ConfigFromEnv()
		if _, set := os.LookupEnv(archiver.EnvPondsURL); !set && opts.DataDir != "" {
			cfg.PondsURL = filepath.Join(opts.DataDir, "pond")
		}
		return func(svc *rivers.Service) error { return riverarchiver.Register(svc, cfg) }, err
	})
	if _, set := os.LookupEnv("REDIS_URL"); set || opts.RedisURL != "" {
		member(hotpond.Name, func() (func(*rivers.Service) error, error) {
			cfg, err := hotpond.ConfigFromEnv()
			if !set {
				cfg.Redis.URL = opts.RedisURL
			}
			if _, set := os.LookupEnv(hotpond.EnvWindowRetention); !set {
				// Readings keep for a day of wall time; at 900× that is
				// months of grid time in the in-process Redis' memory.
				cfg.WindowRetention = 30 * time.Second
			}
			return func(svc *rivers.Service) error { return hotpond.Register(svc, cfg) }, err
		})
		// Two partitions at once: a batch's Lua call runs in redis-server
		// while the next batch is decoded, and Redis is no longer idle
		// between them. With one, hot-pond fell behind at dev's 10,000
		// readings/s (8,500/s sustained, 2026-12-06). Writes are
		// idempotent maxima, so the order across partitions is free.
		configure(hotpond.Name, func(c *rivers.Config) {
			if c.Concurrency == 0 {
				c.Concurrency = 2
			}
		})
	}
	if _, set := os.LookupEnv("REDIS_URL"); set || opts.RedisURL != "" {
		// The self-healing command loop: missed reads become re-reads the
		// simulator's meters answer. Its commands are durable in Redis.
		var closeRedis func() error // of the current run
		member(dispatcher.Name, func() (func(*rivers.Service) error, error) {
			cfg, err := dispatcher.ConfigFromEnv()
			if !set {
				cfg.Redis.URL = opts.RedisURL
			}
			if _, set := os.LookupEnv("DISPATCHER_ACK_TIMEOUT"); !set {
				// The simulator's meters answer within milliseconds; a
				// minute's wait would be 15 grid hours at 900×.
				cfg.AckTimeout = 2 * time.Second
			}
			return func(svc *rivers.Service) error {
				_, c, err := dispatcher.Register(context.Background(), svc, cfg)
				closeRedis = c
				return err
			}, err
		})
		stopped(dispatcher.Name, func(context.Context, error) error {
			if closeRedis == nil {
				return nil
			}
			c := closeRedis
			closeRedis = nil
			return c()
		})
	}
	alertLoad, alertStopped := alertRouter(opts)
	member(alertrouter.Name, alertLoad)
	stopped(alertrouter.Name, alertStopped)
	member(heartbeatmonitor.Name, func() (func(*rivers.Service) error, error) {
		cfg, err := heartbeatmonitor.ConfigFromEnv()
		return func(svc *rivers.Service) error { return heartbeatmonitor.Register(svc, cfg) }, err
	})
	member(registry.Name, func() (func(*rivers.Service) error, error) {
		cfg, err := registry.ConfigFromEnv()
		return func(svc *rivers.Service) error { return registry.Register(svc, cfg) }, err
	})
	member(demandtracker.Name, func() (func(*rivers.Service) error, error) {
		cfg, err := demandtracker.ConfigFromEnv()
		if _, set := os.LookupEnv("DEMAND_ESSENTIAL"); !set {
			cfg.Essential = append(cfg.Essential, billingEssential...)
		}
		return func(svc *rivers.Service) error { return demandtracker.Register(svc, cfg) }, err
	})
	member(clockwatch.Name, func() (func(*rivers.Service) error, error) {
		cfg, err := clockwatch.ConfigFromEnv()
		return func(svc *rivers.Service) error { return clockwatch.Register(svc, cfg) }, err
	})
	member(dlq.Name, func() (func(*rivers.Service) error, error) {
		cfg, err := dlq.ConfigFromEnv()
		return func(svc *rivers.Service) error { return dlq.Register(svc, cfg) }, err
	})
	if opts.Addr != nil {
		var con *console.Console // of the current run
		member(console.Name, func() (func(*rivers.Service) error, error) {
			cfg, err := console.ConfigFromEnvWithUsers(opts.ConsoleUsers)
			return func(svc *rivers.Service) error {
				for _, b := range []struct {
					env, service string
					url          *string
				}{{"CONSOLE_REGISTRY_URL", registry.Name, &cfg.RegistryURL}, {"CONSOLE_DEMAND_URL", demandtracker.Name, &cfg.DemandURL},
					{"CONSOLE_HOTPOND_URL", hotpond.Name, &cfg.HotPondURL}, {"CONSOLE_ALERTS_URL", alertrouter.Name, &cfg.AlertsURL}} {
					if _, set := os.LookupEnv(b.env); !set {
						if a := opts.Addr(b.service); a != "" {
							*b.url = "http://" + a
						}
					}
				}
				// The hot pond of dev serves its API to loopback clients
				// without a token; with HOTPOND_API_TOKEN set the console
				// sends that token.
				if _, set := os.LookupEnv("CONSOLE_HOTPOND_TOKEN"); !set {
					cfg.HotPondToken = os.Getenv(hotpond.EnvAPIToken)
				}
				c, err := console.Attach(svc, cfg)
				con = c
				return err
			}, err
		})
		stopped(console.Name, func(ctx context.Context, runErr error) error {
			if con == nil {
				return nil
			}
			return con.Stopped(ctx, runErr)
		})
	}
	// Stage 3-4 services that keep their state in dev's Redis when there is
	// one (withDevRedis).
	for _, m := range []func(DevOptions) (string, func() (func(*rivers.Service) error, error), func(context.Context, error) error){
		loadForecasterMember, usageInsightsMember,
	} {
		name, load, stop := m(opts)
		member(name, load)
		stopped(name, stop)
	}
	// Services made by `watershed new service`: it adds one line each here
	// and writes the member in members_<name>.go.
	member(billingEstimatorMember())
	configure(billingestimator.Name, billingEstimatorConfig(billingEstimatorV1))
	member(billingEstimatorV2Member())
	configure(billingestimator.Name+"-v2", billingEstimatorConfig(billingEstimatorV2))
	for i := range members { // the versions their heartbeats report, in dev's table too
		switch members[i].Name {
		case billingestimator.Name:
			members[i].Version = billingEstimatorV1
		case billingestimator.Name + "-v2":
			members[i].Version = billingEstimatorV2
		}
	}
	if len(errs) > 0 {
		return nil, joinConfigErrors(errs)
	}
	if opts.DataDir != "" {
		keys, err := LoadControlKeys(filepath.Join(opts.DataDir, "keys"))
		if err != nil {
			return nil, err
		}
		for i := range members {
			members[i].Configure = keys.configure(members[i].Name, members[i].Configure)
		}
	}
	return members, nil
}

func joinConfigErrors(errs []error) error {
	msg := "invalid service configuration:"
	for _, e := range errs {
		msg += "\n  " + e.Error()
	}
	return fmt.Errorf("%s", msg)
}
