package console

import (
	"bytes"
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
// HTTP contracts (see services/registry, services/demand-tracker,
// services/hot-pond and services/alert-router), decoded here without
// importing their modules;
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

// Alert is one alert of the alert-router's GET /v1/alerts.
type Alert struct {
	Fingerprint string            `json:"fingerprint"`
	Name        string            `json:"name"`
	Labels      map[string]string `json:"labels"`
	Summary     string            `json:"summary"`
	State       string            `json:"state"` // firing, resolved
	StartsAt    time.Time         `json:"starts_at"`
	EndsAt      time.Time         `json:"ends_at"`
	UpdatedAt   time.Time         `json:"updated_at"`
	Events      int               `json:"events"`
	ResolvedBy  string            `json:"resolved_by"`
	// Groups are its notification groups' keys, "route{label=value,...}".
	Groups     []string `json:"groups"`
	SilencedBy []string `json:"silenced_by"`
	Inhibited  bool     `json:"inhibited"`
}

// Silence is one silence of the alert-router's GET /v1/silences.
type Silence struct {
	ID        string    `json:"id"`
	Matchers  []string  `json:"matchers"`
	StartsAt  time.Time `json:"starts_at"`
	EndsAt    time.Time `json:"ends_at"`
	CreatedBy string    `json:"created_by"`
	Comment   string    `json:"comment"`
	CreatedAt time.Time `json:"created_at"`
}

// SilenceRequest is the body of the alert-router's POST /v1/silences.
type SilenceRequest struct {
	Matchers  []string `json:"matchers"`
	Duration  string   `json:"duration"`
	CreatedBy string   `json:"created_by"`
	Comment   string   `json:"comment"`
}

// AlertRoute is a route of the alert-router's GET /v1/rules: where the
// alerts it takes are sent.
type AlertRoute struct {
	Name      string   `json:"name"`
	Receivers []string `json:"receivers"`
}

// ErrNotFound is a backend's 404.
var ErrNotFound = errors.New("not found")

// Refusal is a backend's 4xx answer to what it was asked: the request was
// wrong, not the backend; Message is its explanation.
type Refusal struct {
	Code    int
	Message string
}

func (e *Refusal) Error() string { return e.Message }

// backends reads the other services' HTTP APIs.
type backends struct {
	registry, demand, hotPond, alerts string
	hotPondToken                      string
	client                            *http.Client
}

func newBackends(cfg Config) *backends {
	return &backends{registry: strings.TrimRight(cfg.RegistryURL, "/"), demand: strings.TrimRight(cfg.DemandURL, "/"),
		hotPond: strings.TrimRight(cfg.HotPondURL, "/"), alerts: strings.TrimRight(cfg.AlertsURL, "/"),
		hotPondToken: cfg.HotPondToken, client: &http.Client{Timeout: cfg.BackendTimeout}}
}

// BackendError says which backend failed and how, for the page.
type BackendError struct {
	Backend string // "registry", "demand tracker", "hot pond", "alert-router"
	URL     string
	Err     error
}

func (e *BackendError) Error() string {
	var ref *Refusal
	if errors.As(e.Err, &ref) {
		return fmt.Sprintf("the %s at %s refused: %s", e.Backend, e.URL, ref.Message)
	}
	return fmt.Sprintf("the %s at %s did not answer: %v", e.Backend, e.URL, e.Err)
}

func (e *BackendError) Unwrap() error { return e.Err }

func (b *backends) get(ctx context.Context, name, u string, v any) error {
	return b.call(ctx, name, http.MethodGet, u, nil, v)
}

// call sends in (JSON, when not nil) and decodes the answer into out.
func (b *backends) call(ctx context.Context, name, method, u string, in, out any) error {
	var body io.Reader
	if in != nil {
		bs, err := json.Marshal(in)
		if err != nil {
			return &BackendError{name, u, err}
		}
		body = bytes.NewReader(bs)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return &BackendError{name, u, err}
	}
	req.Header.Set("Accept", "application/json")
	if name == "hot pond" && b.hotPondToken != "" {
		req.Header.Set("Authorization", "Bearer "+b.hotPondToken)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := b.client.Do(req)
	if err != nil {
		return &BackendError{name, u, err}
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
	if err != nil {
		return &BackendError{name, u, err}
	}
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return &BackendError{name, u, ErrNotFound}
	case resp.StatusCode >= 400 && resp.StatusCode < 500 && method != http.MethodGet:
		var e struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(raw, &e) != nil || e.Error == "" {
			e.Error = resp.Status + ": " + strings.TrimSpace(string(raw[:min(len(raw), 300)]))
		}
		return &BackendError{name, u, &Refusal{resp.StatusCode, e.Error}}
	case resp.StatusCode < 200 || resp.StatusCode > 299:
		return &BackendError{name, u, fmt.Errorf("%s: %s", resp.Status, strings.TrimSpace(string(raw[:min(len(raw), 300)])))}
	}
	if err := json.Unmarshal(raw, out); err != nil {
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

func (b *backends) alertList(ctx context.Context) ([]Alert, error) {
	var out struct {
		Alerts []Alert `json:"alerts"`
	}
	err := b.get(ctx, "alert-router", b.alerts+"/v1/alerts", &out)
	return out.Alerts, err
}

func (b *backends) silences(ctx context.Context) ([]Silence, error) {
	var out struct {
		Silences []Silence `json:"silences"`
	}
	err := b.get(ctx, "alert-router", b.alerts+"/v1/silences", &out)
	return out.Silences, err
}

// alertRoutes returns the alert-router's routes; they name the receivers
// of an alert's groups.
func (b *backends) alertRoutes(ctx context.Context) ([]AlertRoute, error) {
	var out struct {
		Routes []AlertRoute `json:"routes"`
	}
	err := b.get(ctx, "alert-router", b.alerts+"/v1/rules", &out)
	return out.Routes, err
}

func (b *backends) addSilence(ctx context.Context, sr SilenceRequest) (Silence, error) {
	var out Silence
	err := b.call(ctx, "alert-router", http.MethodPost, b.alerts+"/v1/silences", sr, &out)
	return out, err
}

func (b *backends) expireSilence(ctx context.Context, id string) (Silence, error) {
	var out Silence
	err := b.call(ctx, "alert-router", http.MethodDelete, b.alerts+"/v1/silences/"+url.PathEscape(id), nil, &out)
	return out, err
}
