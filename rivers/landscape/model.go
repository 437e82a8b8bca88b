package landscape

import "time"

// Heartbeat is what the registry keeps of one system.heartbeat.v1.
type Heartbeat struct {
	Service   string
	Version   string
	Instance  string
	StartedAt time.Time
	Uptime    time.Duration
	Publishes []string // event types the instance declares it publishes
	Rivers    []River  // the river contracts it subscribes with
	Retired   []string // types it has stopped publishing on a retirement
	Retiring  []Notice // types under a retirement notice it still publishes
	Lag       int64
	// LastProcessed is when the instance last handled an event; zero if never.
	LastProcessed time.Time
}

// River is one subscription contract of a service.
type River struct {
	Topic   string   `json:"topic"`
	Types   []string `json:"types"`          // event types; empty means every type
	Keys    []string `json:"keys,omitempty"` // data keys required or read
	Passive bool     `json:"passive"`        // archivers, taps, monitors: not demand
}

// Instance is one running instance of a service version.
type Instance struct {
	ID            string    `json:"id"`
	StartedAt     time.Time `json:"started_at,omitzero"`
	LastSeen      time.Time `json:"last_seen"`
	UptimeSeconds float64   `json:"uptime_seconds"`
	Lag           int64     `json:"lag"`
	LastProcessed time.Time `json:"last_processed,omitzero"`
}

// Version is one version of a service, with its live instances and the
// contracts its newest heartbeat declares.
type Version struct {
	Version    string     `json:"version"`
	Instances  []Instance `json:"instances"`
	Publishes  []string   `json:"publishes"`
	Subscribes []River    `json:"subscribes"`
	Retired    []string   `json:"retired"`
	// Retiring lists the types this version was told it will stop
	// publishing, and when: the warning before a retirement.
	Retiring []Notice `json:"retiring"`
}

// Notice is a retirement notice a service version has received and that
// has not taken effect yet.
type Notice struct {
	Type        string    `json:"type"`
	EffectiveAt time.Time `json:"effective_at"`
	Reason      string    `json:"reason,omitempty"`
}

// Service is one service name with its versions running side by side.
type Service struct {
	Name      string    `json:"name"`
	Versions  []Version `json:"versions"`
	Instances int       `json:"instances"`
}

// Endpoint is one service version at one end of an event type.
type Endpoint struct {
	Service   string `json:"service"`
	Version   string `json:"version"`
	Instances int    `json:"instances"`
}

// Consumer is a service version subscribing to an event type.
type Consumer struct {
	Endpoint
	Topic   string `json:"topic"`
	Passive bool   `json:"passive"`
}

// Type is one event type of the demand graph.
type Type struct {
	Type      string     `json:"type"`
	Producers []Endpoint `json:"producers"`
	Consumers []Consumer `json:"consumers"`
	// Active is how many consumers count as demand (not passive).
	Active int `json:"active_consumers"`
	// RetiredBy lists producers (service@version) that have stopped
	// publishing the type on a retirement.
	RetiredBy []string `json:"retired_by"`
}

// Node is a service version in the graph.
type Node struct {
	ID      string `json:"id"` // service@version
	Service string `json:"service"`
	Version string `json:"version"`
}

// Edge says From publishes Type and To consumes it.
type Edge struct {
	From    string `json:"from"`
	To      string `json:"to"`
	Type    string `json:"type"`
	Passive bool   `json:"passive"`
}

// Graph is the demand graph: service versions joined by the event types
// one publishes and the other subscribes to.
type Graph struct {
	Nodes []Node `json:"nodes"`
	Edges []Edge `json:"edges"`
	Types []Type `json:"types"`
}

// ID returns "service@version".
func ID(service, version string) string { return service + "@" + version }
