package registry_test

import (
	"context"
	"encoding/json"
	"github.com/watershed-grid/watershed/rivers/landscape"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/watershed-grid/watershed/contracts/events"
	"github.com/watershed-grid/watershed/rivers"
	"github.com/watershed-grid/watershed/rivers/riverstest"
	"github.com/watershed-grid/watershed/services/registry/registry"
)

// TestRegistryServiceOnBroker: services on the broker appear in the
// registry's HTTP API with their versions side by side, instances, what
// they publish and their rivers; an orderly stop removes an instance.
func TestRegistryServiceOnBroker(t *testing.T) {
	for _, k := range riverstest.Kafkas(t) {
		t.Run(k.Name, func(t *testing.T) {
			cfg := func(name, version, instance string) rivers.Config {
				return rivers.Config{Name: name, Version: version, Instance: instance, Kafka: k.Kafka, HTTPAddr: "off",
					LogLevel: "error", HeartbeatInterval: 100 * time.Millisecond}
			}
			reg, err := rivers.NewService(cfg(registry.Name, "1.0.0", "reg-1"))
			if err != nil {
				t.Fatal(err)
			}
			if err := registry.Register(reg, registry.Config{InstanceTTL: 5 * time.Second, ExpireInterval: 100 * time.Millisecond}); err != nil {
				t.Fatal(err)
			}
			riverstest.ServeKafka(t, reg, k.Kafka)

			var running []*riverstest.Running
			for _, v := range []string{"1.0.0", "1.1.0"} {
				p, err := rivers.NewService(cfg("usage-aggregator", v, "ua-"+v))
				if err != nil {
					t.Fatal(err)
				}
				p.Publishes(events.TypeUsageInterval)
				p.Handle(rivers.NewRiver(events.TypeMeterReading).OnTopic(rivers.Rapids).Require("meter_id"),
					func(context.Context, rivers.Event, rivers.Publisher) error { return nil })
				running = append(running, riverstest.ServeKafka(t, p, k.Kafka))
			}

			get := func(path string, into any) int {
				rec := httptest.NewRecorder()
				reg.HTTPHandler().ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
				if rec.Code == 200 {
					if err := json.Unmarshal(rec.Body.Bytes(), into); err != nil {
						t.Fatalf("%s: %v", path, err)
					}
				}
				return rec.Code
			}
			var svc landscape.Service
			deadline := time.Now().Add(30 * time.Second)
			for get("/v1/services/usage-aggregator", &svc) != 200 || len(svc.Versions) < 2 {
				if time.Now().After(deadline) {
					t.Fatalf("usage-aggregator never listed with two versions: %+v", svc)
				}
				time.Sleep(20 * time.Millisecond)
			}
			for _, v := range svc.Versions {
				reads := slices.ContainsFunc(v.Subscribes, func(r landscape.River) bool {
					return slices.Contains(r.Types, events.TypeMeterReading) && r.Topic == k.Kafka.Topics.Rapids && !r.Passive
				})
				if len(v.Instances) != 1 || !slices.Contains(v.Publishes, events.TypeUsageInterval) || !reads {
					t.Fatalf("version %s: %+v", v.Version, v)
				}
			}
			var types struct{ Types []landscape.Type }
			get("/v1/types", &types)
			i := slices.IndexFunc(types.Types, func(ty landscape.Type) bool { return ty.Type == events.TypeMeterReading })
			// The two usage-aggregators read it on the rapids (the registry's
			// own passive "*" river on the rivers, which follows its read
			// progress, is listed too: a wildcard consumes every known type).
			rapidsReaders := 0
			if i >= 0 {
				for _, c := range types.Types[i].Consumers {
					if c.Topic == k.Kafka.Topics.Rapids && !c.Passive {
						rapidsReaders++
					}
				}
			}
			if i < 0 || rapidsReaders != 2 || types.Types[i].Active != 2 {
				t.Fatalf("/v1/types meter.reading.v1: %+v", types.Types)
			}

			// an orderly stop: the instance is gone at once
			if err := running[0].Stop(); err != nil {
				t.Fatal(err)
			}
			deadline = time.Now().Add(30 * time.Second)
			for get("/v1/services/usage-aggregator", &svc) == 200 && len(svc.Versions) != 1 {
				if time.Now().After(deadline) {
					t.Fatalf("stopped instance still listed: %+v", svc)
				}
				time.Sleep(20 * time.Millisecond)
			}
			if svc.Versions[0].Version != "1.1.0" {
				t.Fatalf("left: %+v", svc.Versions)
			}
		})
	}
}
