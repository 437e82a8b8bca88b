package alertrouter

import (
	"encoding/json"
	"time"
)

// States of an alert.
const (
	StateFiring   = "firing"
	StateResolved = "resolved"
)

// Alert is one thing a person must know, de-duplicated by its fingerprint
// (its name and key values). It is the JSON of GET /v1/alerts and of the
// alerts in a notification.
type Alert struct {
	Fingerprint string            `json:"fingerprint"`
	Name        string            `json:"name"`
	Labels      map[string]string `json:"labels"`
	Summary     string            `json:"summary"`
	State       string            `json:"state"`
	// StartsAt is the event time (ce_time) of the event that raised it;
	// EndsAt that of the event that resolved it (or when it timed out).
	StartsAt time.Time `json:"starts_at"`
	EndsAt   time.Time `json:"ends_at,omitzero"`
	// UpdatedAt is when (service clock) an event last raised it.
	UpdatedAt time.Time `json:"updated_at"`
	// Events counts the raising events folded into it (duplicates included).
	Events int `json:"events"`
	// EventID is the last raising event's ce_id; ResolvedBy the resolving
	// event's, or "timeout".
	EventID    string `json:"event_id,omitempty"`
	ResolvedBy string `json:"resolved_by,omitempty"`
	// Groups are the notification groups (route and group labels) it is in.
	Groups []string `json:"groups,omitempty"`
	// Data is the last raising event's payload, forwarded as it was.
	Data json.RawMessage `json:"data,omitempty"`

	// Set in listings only: the silences that mute it, and whether an
	// inhibiting alert fires.
	SilencedBy []string `json:"silenced_by,omitempty"`
	Inhibited  bool     `json:"inhibited,omitempty"`
}

// Silence mutes the alerts its matchers all match, from StartsAt to EndsAt.
type Silence struct {
	ID        string    `json:"id"`
	Matchers  []string  `json:"matchers"`
	StartsAt  time.Time `json:"starts_at"`
	EndsAt    time.Time `json:"ends_at"`
	CreatedBy string    `json:"created_by"`
	Comment   string    `json:"comment"`
	CreatedAt time.Time `json:"created_at"`

	matchers []Matcher
}

// Active reports whether the silence mutes alerts at now.
func (s *Silence) Active(now time.Time) bool { return !now.Before(s.StartsAt) && now.Before(s.EndsAt) }

// group is the notification state of one route's alerts with the same
// group labels.
type group struct {
	Key       string            `json:"key"`
	Route     string            `json:"route"`
	Labels    map[string]string `json:"labels"`
	Receivers []string          `json:"receivers"`
	// Members maps each alert's fingerprint to the state last notified
	// ("" when not yet).
	Members      map[string]string `json:"members"`
	PendingSince time.Time         `json:"pending_since,omitzero"`
	LastNotified time.Time         `json:"last_notified,omitzero"`
	Seq          int               `json:"seq"`
}

// Notification is what one receiver is sent about one group. Its ID is
// stable across retries (header X-Watershed-Notification-Id), so a receiver
// can drop the rare duplicate a crash between sending and recording makes.
type Notification struct {
	ID          string            `json:"id"`
	Receiver    string            `json:"receiver"`
	Route       string            `json:"route"`
	GroupKey    string            `json:"group_key"`
	GroupLabels map[string]string `json:"group_labels"`
	Status      string            `json:"status"`
	Repeat      bool              `json:"repeat,omitempty"`
	Alerts      []Alert           `json:"alerts"`
	// Truncated counts alerts left out beyond ALERT_MAX_ALERTS.
	Truncated int       `json:"truncated,omitempty"`
	CreatedAt time.Time `json:"created_at"`

	Attempts    int       `json:"attempts"`
	NextAttempt time.Time `json:"next_attempt,omitzero"`
	LastError   string    `json:"last_error,omitempty"`
}

// Outcomes of a delivery attempt.
const (
	DeliveryDelivered = "delivered"
	DeliveryRetrying  = "retrying"
	DeliveryDead      = "dead"
)

// Delivery is one attempt to send a notification: the history of GET
// /v1/deliveries.
type Delivery struct {
	NotificationID string    `json:"notification_id"`
	Receiver       string    `json:"receiver"`
	Kind           string    `json:"kind"`
	GroupKey       string    `json:"group_key"`
	Status         string    `json:"status"`
	Attempt        int       `json:"attempt"`
	Alerts         int       `json:"alerts"`
	At             time.Time `json:"at"`
	DurationMS     float64   `json:"duration_ms"`
	Error          string    `json:"error,omitempty"`
}
