package dlq

import (
	"context"
	"time"

	"github.com/watershed-grid/watershed/rapids"
	"github.com/watershed-grid/watershed/rivers/deadletter"
)

// The dead-letter library moved to package rivers/deadletter, so that the
// CLI and the console use it without importing this service's module.
// These names keep the service's callers compiling; new code imports
// rivers/deadletter.
type (
	Letter = deadletter.Letter
	Filter = deadletter.Filter
	Count  = deadletter.Count
	Skip   = deadletter.Skip
	Plan   = deadletter.Plan
	Page   = deadletter.Page
	Cursor = deadletter.Cursor
)

const (
	DefaultIdle           = deadletter.DefaultIdle
	DefaultReplayLimit    = deadletter.DefaultReplayLimit
	HeaderReplayCount     = deadletter.HeaderReplayCount
	HeaderReplayOrigin    = deadletter.HeaderReplayOrigin
	HeaderReplayMarker    = deadletter.HeaderReplayMarker
	HeaderOriginTopic     = deadletter.HeaderOriginTopic
	HeaderOriginPartition = deadletter.HeaderOriginPartition
	HeaderOriginOffset    = deadletter.HeaderOriginOffset
	HeaderErrorClass      = deadletter.HeaderErrorClass
	HeaderError           = deadletter.HeaderError
	HeaderRiver           = deadletter.HeaderRiver
	HeaderService         = deadletter.HeaderService
	HeaderFailedAt        = deadletter.HeaderFailedAt
)

var ErrNoOrigin = deadletter.ErrNoOrigin

// Parse is [deadletter.Parse].
func Parse(r rapids.Record) Letter { return deadletter.Parse(r) }

// Select is [deadletter.Select].
func Select(ls []Letter, f Filter) []Letter { return deadletter.Select(ls, f) }

// Summarize is [deadletter.Summarize].
func Summarize(ls []Letter) []Count { return deadletter.Summarize(ls) }

// PlanReplay is [deadletter.PlanReplay].
func PlanReplay(ls []Letter, f Filter, limit int) Plan { return deadletter.PlanReplay(ls, f, limit) }

// Read is [deadletter.Read].
func Read(ctx context.Context, cfg rapids.Config, topics []string, idle time.Duration) ([]Letter, error) {
	return deadletter.Read(ctx, cfg, topics, idle)
}

// ReadPage is [deadletter.ReadPage].
func ReadPage(ctx context.Context, cfg rapids.Config, topics []string, idle time.Duration, cursor Cursor, limit int) (Page, error) {
	return deadletter.ReadPage(ctx, cfg, topics, idle, cursor, limit)
}

// Replay is [deadletter.Replay].
func Replay(ctx context.Context, p *rapids.Producer, plan Plan) (int, error) {
	return deadletter.Replay(ctx, p, plan)
}

// ParseCursor is [deadletter.ParseCursor].
func ParseCursor(s string) (Cursor, error) { return deadletter.ParseCursor(s) }

// DefaultTopics is [deadletter.DefaultTopics].
func DefaultTopics(cfg rapids.Config) []string { return deadletter.DefaultTopics(cfg) }
