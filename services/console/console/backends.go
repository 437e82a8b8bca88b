package console

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/watershed-grid/watershed/contracts/events"
)

// The JSON the console reads from other services. They are the services'
// HTTP contracts (see services/registry, services/demand-tracker and
// services/hot-pond), decoded here without importing their modules;
// unknown members are ignored, so the services may add some.

// RegService is one service of the registry's GET /v1/services.
type RegService struct {
	Name      string       `json:"name"`
	Versions  []RegVersion `json:"versions"`
	Instances int          `json:"instances"`
}

// RegVersion is one version of a service with its instances.
type RegVersion struct {
	Version    string        `json:"version"`
	Instances  []RegInstance `json:"instances"`
	Publishes  []string      `json:"publishes"`
	Subscribes []RegRiver    `json:"subscribes"`
	Retired    []string      `json:"retired"`
}

// RegInstance is one running instance, as its heartbeats tell.
type RegInstance struct {
	ID            string    `json:"id"`
	StartedAt     time.Time `json:"started_at"`
	LastSeen      time.Time `json:"last_seen"`
	UptimeSeconds float64   `json:"uptime_seconds"`
	Lag           int64     `json:"lag"`
	LastProcessed time.Time `json:"last_processed"`
}

// RegRiver is a subscription contract.
type RegRiver struct {
	Topic   string   `json:"topic"`
	Types   []string `json:"types"`
	Keys    []string `json:"keys"`
	Passive bool     `json:"passive"`
}

// RegEndpoint is a service version at one end of an event type.
type RegEndpoint struct {
	Service   string `json:"service"`
	Version   string `json:"version"`
	Instances int    `json:"instances"`
}

// RegConsumer is a service version subscribing to a type.
type RegConsumer struct {
	RegEndpoint
	Topic   string `json:"topic"`
	Passive bool   `json:"passive"`
}

// RegType is one event type of the registry's GET /v1/types.
type RegType struct {
	Type      string        `json:"type"`
	Producers []RegEndpoint `json:"producers"`
	Consumers []RegConsumer `json:"consumers"`
	Active    int           `json:"active_consumers"`
	RetiredBy []string      `json:"retired_by"`
}

// DemandReport is the demand tracker's GET /v1/demand.
type DemandReport struct {
	Lagging bool           `json:"lagging"`
	Types   []DemandStatus `json:"types"`
}

// DemandStatus is one type's standing in the demand tracker.
type DemandStatus struct {
	Type         string    `json:"type"`
	State        string    `json:"state"`
	Since        time.Time `json:"since"`
	Active       int       `json:"active_subscribers"`
	LastDemandAt time.Time `json:"last_demand_at"`
	Producers    []string  `json:"producers"`
	RetiredBy    []string  `json:"retired_by"`
}

// MeterReading is the hot pond's GET /v1/meters/{id}/latest.
type MeterReading struct {
	EventID string `json:"event_id"`
	events.MeterReading
}

// ErrNotFound is a backend's 404.
var ErrNotFound = errors.New("not found")

// backends reads the other services' HTTP APIs.
type backends struct {
	registry, demand, hotPond string
	client                    *http.Client
}

func newBackends(cfg Config) *backends {
	return &backends{registry: strings.TrimRight(cfg.RegistryURL, "/"), demand: strings.TrimRight(cfg.DemandURL, "/"),
		hotPond: strings.TrimRight(cfg.HotPondURL, "/"), client: &http.Client{Timeout: cfg.BackendTimeout}}
}

// BackendError says which backend failed and how, for the page.
type BackendError struct {
	Backend string // "registry", "demand tracker", "hot pond"
	URL     string
	Err     error
}

func (e *BackendError) Error() string {
	return fmt.Sprintf("the %s at %s did not answer: %v", e.Backend, e.URL, e.Err)
}

func (e *BackendError) Unwrap() error { return e.Err }

func (b *backends) get(ctx context.Context, name, u string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return &BackendError{name, u, err}
	}
	req.Header.Set("Accept", "application/json")
	resp, err := b.client.Do(req)
	if err != nil {
		return &BackendError{name, u, err}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
	if err != nil {
		return &BackendError{name, u, err}
	}
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return &BackendError{name, u, ErrNotFound}
	case resp.StatusCode != http.StatusOK:
		return &BackendError{name, u, fmt.Errorf("%s: %s", resp.Status, strings.TrimSpace(string(body[:min(len(body), 300)])))}
	}
	if err := json.Unmarshal(body, v); err != nil {
		return &BackendError{name, u, fmt.Errorf("unexpected answer: %w", err)}
	}
	return nil
}

func (b *backends) services(ctx context.Context) ([]RegService, error) {
	var out struct {
		Services []RegService `json:"services"`
	}
	err := b.get(ctx, "registry", b.registry+"/v1/services", &out)
	return out.Services, err
}

func (b *backends) types(ctx context.Context) ([]RegType, error) {
	var out struct {
		Types []RegType `json:"types"`
	}
	err := b.get(ctx, "registry", b.registry+"/v1/types", &out)
	return out.Types, err
}

func (b *backends) demandReport(ctx context.Context) (DemandReport, error) {
	var out DemandReport
	err := b.get(ctx, "demand tracker", b.demand+"/v1/demand", &out)
	return out, err
}

func (b *backends) meter(ctx context.Context, id string) (MeterReading, error) {
	var out MeterReading
	err := b.get(ctx, "hot pond", b.hotPond+"/v1/meters/"+url.PathEscape(id)+"/latest", &out)
	return out, err
}
