package rivers_test

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/watershed-grid/watershed/contracts"
	"github.com/watershed-grid/watershed/contracts/events"
	"github.com/watershed-grid/watershed/rapids"
	"github.com/watershed-grid/watershed/rivers"
	"github.com/watershed-grid/watershed/rivers/riverstest"
)

// partWatch is a service that keeps state per partition: readings per
// meter, built from live and replayed records alike.
type partWatch struct {
	mu                sync.Mutex
	count             map[string]int // meter → readings held (the state)
	live, replayed    []string
	assigned, revoked []int
	ctxDisagrees      int // records whose batch context's Delivery.Replay is not theirs
}

func (w *partWatch) handle(ctx context.Context, b *rivers.Batch[events.MeterReading]) error {
	for i := range b.Len() {
		r, d := b.Value(i), b.Delivery(i)
		cd, _ := rivers.DeliveryFrom(ctx)
		w.mu.Lock()
		if cd.Replay != d.Replay {
			w.ctxDisagrees++
		}
		w.count[r.MeterID]++
		if d.Replay {
			w.replayed = append(w.replayed, r.MeterID)
		} else {
			w.live = append(w.live, r.MeterID)
		}
		w.mu.Unlock()
		// Published for every reading: the replayed ones must be discarded.
		if err := b.Publisher(i).Publish(ctx, events.TypeMeterReadingAnomalous, events.MeterReadingAnomalous{
			MeterID: r.MeterID, TransformerID: r.TransformerID, FeederID: r.FeederID,
			ReadAt: r.ReadAt, ReadingEventID: b.Event(i).ID(), Reading: *r,
			Rule: "voltage_out_of_range", Reason: "test", DetectedAt: r.ReadAt,
		}); err != nil {
			return err
		}
	}
	return nil
}

func (w *partWatch) snapshot() (count map[string]int, live, replayed []string, assigned, revoked []int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	c := map[string]int{}
	for k, v := range w.count {
		c[k] = v
	}
	return c, slices.Clone(w.live), slices.Clone(w.replayed), slices.Clone(w.assigned), slices.Clone(w.revoked)
}

func newPartService(t *testing.T, name string, w *partWatch) *rivers.Service {
	t.Helper()
	cfg := testConfig(name)
	cfg.Group = "part-state"
	svc, err := rivers.NewService(cfg)
	if err != nil {
		t.Fatal(err)
	}
	w.count = map[string]int{}
	svc.Publishes(events.TypeMeterReadingAnomalous)
	rivers.HandleBatch(svc, readingRiver(), w.handle)
	svc.KeepPartitionState(rivers.PartitionState{
		Assigned: func(tp rivers.TopicPartition) {
			p := tp.Partition
			w.mu.Lock()
			defer w.mu.Unlock()
			clear(w.count)
			w.assigned = append(w.assigned, p)
		},
		Revoked: func(tp rivers.TopicPartition) {
			p := tp.Partition
			w.mu.Lock()
			defer w.mu.Unlock()
			clear(w.count)
			w.revoked = append(w.revoked, p)
		},
	})
	return svc
}

// A member that takes a partition over rebuilds its state from the
// partition's history (replayed, de-duplicated, unpublished, uncommitted),
// then handles the new records; the member that lost it drops its state.
func TestPartitionStateReplayOnAssignment(t *testing.T) {
	bus := riverstest.NewBus()
	clock := riverstest.NewClock(riverstest.Start)
	var a, b partWatch
	ka := riverstest.New(t, newPartService(t, "part-a", &a), riverstest.WithBus(bus), riverstest.WithClock(clock))
	at := riverstest.Start.Add(-time.Hour)
	var sent []string
	for i, m := range []string{"MTR-0", "MTR-1", "MTR-2"} {
		e := ka.Event(events.TypeMeterReading, reading(m, 230, at.Add(time.Duration(i)*15*time.Minute)))
		ka.Send(e, riverstest.OnTopic(rivers.Rapids))
		if i == 1 { // a duplicate delivery: the same event again
			ka.Send(e, riverstest.OnTopic(rivers.Rapids))
		}
		sent = append(sent, m)
	}
	count, live, replayed, assigned, _ := a.snapshot()
	if !slices.Equal(live, sent) || len(replayed) != 0 || !slices.Equal(assigned, []int{0}) {
		t.Fatalf("member a: live %v replayed %v assigned %v; want live %v, nothing replayed, partition 0 assigned", live, replayed, assigned, sent)
	}
	wantState := map[string]int{"MTR-0": 1, "MTR-1": 1, "MTR-2": 1}
	if !mapsEqual(count, wantState) {
		t.Fatalf("member a's state %v, want %v", count, wantState)
	}
	if n := len(ka.Published(events.TypeMeterReadingAnomalous)); n != 3 {
		t.Fatalf("member a published %d events, want 3", n)
	}
	committed := bus.Committed("part-state", "rapids")

	kb := riverstest.New(t, newPartService(t, "part-b", &b), riverstest.WithBus(bus), riverstest.WithClock(clock))
	e := kb.Event(events.TypeMeterReading, reading("MTR-3", 230, at.Add(time.Hour)))
	kb.Send(e, riverstest.OnTopic(rivers.Rapids))

	count, live, replayed, assigned, revoked := b.snapshot()
	if !slices.Equal(replayed, sent) || !slices.Equal(live, []string{"MTR-3"}) || !slices.Equal(assigned, []int{0}) || len(revoked) != 0 {
		t.Errorf("member b: replayed %v live %v assigned %v revoked %v; want replayed %v (the duplicate dropped), live [MTR-3], partition 0 assigned",
			replayed, live, assigned, revoked, sent)
	}
	wantState["MTR-3"] = 1
	if !mapsEqual(count, wantState) {
		t.Errorf("member b's state %v, want %v (the same as one member that read everything)", count, wantState)
	}
	b.mu.Lock()
	disagree := b.ctxDisagrees
	b.mu.Unlock()
	if disagree != 0 {
		t.Errorf("%d records: the batch's context said Replay differently from Batch.Delivery", disagree)
	}
	pubs := kb.Published(events.TypeMeterReadingAnomalous)
	if len(pubs) != 1 {
		t.Errorf("member b published %d events, want 1 (replayed records publish nothing)", len(pubs))
	}
	if got := bus.Committed("part-state", "rapids"); got != committed+1 {
		t.Errorf("committed offset %d, want %d: the replay commits nothing, the new record commits", got, committed+1)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		count, _, _, _, revoked := a.snapshot()
		if slices.Equal(revoked, []int{0}) && len(count) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("member a: revoked %v, state %v; want partition 0 revoked and its state dropped", revoked, count)
		}
		time.Sleep(time.Millisecond)
	}
}

func mapsEqual(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// kafkaPartWatch keeps, per partition, the readings it holds by event id.
type kafkaPartWatch struct {
	mu       sync.Mutex
	held     map[int]map[string]int // partition → event id → times handled
	replayed int
	revoked  []int
	assigned []int
}

func (w *kafkaPartWatch) service(t *testing.T, cfg rivers.Config) *rivers.Service {
	t.Helper()
	svc, err := rivers.NewService(cfg)
	if err != nil {
		t.Fatal(err)
	}
	w.held = map[int]map[string]int{}
	rivers.HandleBatch(svc, readingRiver(), func(_ context.Context, b *rivers.Batch[events.MeterReading]) error {
		w.mu.Lock()
		defer w.mu.Unlock()
		for i := range b.Len() {
			d := b.Delivery(i)
			if w.held[d.Partition] == nil {
				w.held[d.Partition] = map[string]int{}
			}
			w.held[d.Partition][b.Event(i).ID()]++
			if d.Replay {
				w.replayed++
			}
		}
		return nil
	})
	svc.KeepPartitionState(rivers.PartitionState{
		History: time.Hour,
		Assigned: func(tp rivers.TopicPartition) {
			p := tp.Partition
			w.mu.Lock()
			defer w.mu.Unlock()
			delete(w.held, p)
			w.assigned = append(w.assigned, p)
		},
		Revoked: func(tp rivers.TopicPartition) {
			p := tp.Partition
			w.mu.Lock()
			defer w.mu.Unlock()
			delete(w.held, p)
			w.revoked = append(w.revoked, p)
		},
	})
	return svc
}

// state returns the partitions held and their event ids (each handled
// once, or "" when one was handled twice).
func (w *kafkaPartWatch) state() map[int][]string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := map[int][]string{}
	for p, ids := range w.held {
		for id, n := range ids {
			if n != 1 {
				id = "twice:" + id
			}
			out[p] = append(out[p], id)
		}
		slices.Sort(out[p])
	}
	return out
}

// TestKafkaPartitionStateHandover is the handover on Kafka: a member holds
// both partitions of the rapids; a second member joins and takes one over,
// rebuilding its state from the partition's history; after more readings
// the two members hold exactly the readings of their partitions, each
// once, as one member would have.
func TestKafkaPartitionStateHandover(t *testing.T) {
	for _, k := range riverstest.Kafkas(t) {
		t.Run(k.Name, func(t *testing.T) {
			kc := k.Kafka
			kc.Topics.Rapids += "-p2"
			kc.Topics.Rivers += "-p2"
			kc.Partitions, kc.RiversPartitions = 2, 1
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := rapids.EnsureTopics(ctx, kc); err != nil {
				t.Fatal(err)
			}
			cfgOf := func(name string) rivers.Config {
				c := testConfig(name)
				c.Group = "handover"
				c.Kafka = kc
				return c
			}
			byPartition := map[int][]string{}
			produce := func(from, n int) {
				var recs []rivers.Record
				for i := from; i < from+n; i++ {
					recs = append(recs, record(t, kc.Topics.Rapids, newReading(t, fmt.Sprintf("MTR-%d", i), 230)))
				}
				riverstest.Produce(t, kc, recs...)
			}
			// Synchronous commits: what a member handled is committed when
			// the other joins, so the replay has history to read.
			syncCommit := rapids.WithCommitInterval(0)
			var a, b kafkaPartWatch
			svcA := a.service(t, cfgOf("handover-a"))
			riverstest.ServeKafka(t, svcA, kc, syncCommit)
			produce(0, 20)
			waitCond(t, "member a handled the first 20 readings", func() bool { return total(svcA.Progress(kc.Topics.Rapids)) == 20 })

			svcB := b.service(t, cfgOf("handover-b"))
			riverstest.ServeKafka(t, svcB, kc, syncCommit)
			waitCond(t, "the partitions shared", func() bool {
				pa, _ := svcA.Assigned(kc.Topics.Rapids)
				pb, _ := svcB.Assigned(kc.Topics.Rapids)
				return len(pa) == 1 && len(pb) == 1
			})
			produce(20, 20)
			waitCond(t, "the 40 readings handled", func() bool {
				return total(svcA.Progress(kc.Topics.Rapids))+total(svcB.Progress(kc.Topics.Rapids)) >= 40 &&
					len(a.state())+len(b.state()) == 2
			})
			// What one member reading everything holds: every reading by
			// partition, from the topic itself.
			for _, r := range riverstest.Consume(t, kc, kc.Topics.Rapids, func(rs []rivers.Record) bool { return len(rs) >= 40 }, 30*time.Second) {
				id, _ := contracts.HeaderValue(r.Headers, contracts.HeaderID)
				byPartition[r.Partition] = append(byPartition[r.Partition], string(id))
			}
			for p := range byPartition {
				slices.Sort(byPartition[p])
			}
			waitCond(t, "each member holding exactly its partition's readings", func() bool {
				sa, sb := a.state(), b.state()
				for p, ids := range sa {
					if !slices.Equal(ids, byPartition[p]) {
						return false
					}
				}
				for p, ids := range sb {
					if !slices.Equal(ids, byPartition[p]) {
						return false
					}
				}
				return len(sa) == 1 && len(sb) == 1
			})
			b.mu.Lock()
			replayed, assigned := b.replayed, slices.Clone(b.assigned)
			b.mu.Unlock()
			a.mu.Lock()
			revoked := slices.Clone(a.revoked)
			a.mu.Unlock()
			if len(assigned) != 1 || !slices.Equal(revoked, assigned) {
				t.Errorf("member b assigned %v, member a revoked %v: want the same one partition", assigned, revoked)
			}
			if replayed == 0 || replayed > len(byPartition[assigned[0]]) {
				t.Errorf("member b replayed %d records of partition %v (of %d): want its history", replayed, assigned, len(byPartition[assigned[0]]))
			}
		})
	}
}

func total(m map[int]int64) int64 {
	var n int64
	for _, v := range m {
		n += v
	}
	return n
}

func waitCond(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within 60s: %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestDerivedID(t *testing.T) {
	a, b := rivers.DerivedID("MTR-1", "2026-03-02T00:15:00Z"), rivers.DerivedID("MTR-1", "2026-03-02T00:15:00Z")
	c := rivers.DerivedID("MTR-1", "2026-03-02T00:30:00Z")
	d := rivers.DerivedID("MTR-12", "026-03-02T00:15:00Z") // the separator tells the parts apart
	if a != b || a == c || a == d || len(a) != 36 || a[14] != '8' {
		t.Errorf("DerivedID: %s %s %s %s: want equal for equal parts, different otherwise, a version-8 UUID", a, b, c, d)
	}
	// An event published with WithID carries it.
	svc, err := rivers.NewService(testConfig("ids"))
	if err != nil {
		t.Fatal(err)
	}
	svc.Publishes(events.TypeMeterReadingAnomalous)
	k := riverstest.New(t, svc)
	r := reading("MTR-1", 230, riverstest.Start)
	if err := svc.Publish(context.Background(), events.TypeMeterReadingAnomalous, events.MeterReadingAnomalous{
		MeterID: r.MeterID, TransformerID: r.TransformerID, FeederID: r.FeederID, ReadAt: r.ReadAt, ReadingEventID: "x", Reading: r,
		Rule: "voltage_out_of_range", Reason: "test", DetectedAt: r.ReadAt,
	}, rivers.WithID(a)); err != nil {
		t.Fatal(err)
	}
	if got := k.Published(events.TypeMeterReadingAnomalous); len(got) != 1 || got[0].ID != a {
		t.Errorf("published %v, want one event with id %s", got, a)
	}
}

// Timers wait while a replay is in progress: a timer never judges with a
// partition half rebuilt.
func TestPartitionStateTimersWaitForReplay(t *testing.T) {
	bus := riverstest.NewBus()
	clock := riverstest.NewClock(riverstest.Start)
	type watch struct {
		mu      sync.Mutex
		meters  map[string]bool
		runs    []int // state size at each timer run
		blocked chan struct{}
		release chan struct{}
		once    sync.Once
	}
	newSvc := func(name string, w *watch) *rivers.Service {
		cfg := testConfig(name)
		cfg.Group = "part-timers"
		svc, err := rivers.NewService(cfg)
		if err != nil {
			t.Fatal(err)
		}
		w.meters = map[string]bool{}
		rivers.HandleBatch(svc, readingRiver(), func(_ context.Context, b *rivers.Batch[events.MeterReading]) error {
			for i := range b.Len() {
				if b.Delivery(i).Replay && w.release != nil {
					w.once.Do(func() { // the first replayed record waits
						w.blocked <- struct{}{}
						<-w.release
					})
				}
				w.mu.Lock()
				w.meters[b.Value(i).MeterID] = true
				w.mu.Unlock()
			}
			return nil
		})
		svc.Every(time.Minute, "judge", func(context.Context, time.Time, rivers.Publisher) error {
			w.mu.Lock()
			defer w.mu.Unlock()
			w.runs = append(w.runs, len(w.meters))
			return nil
		})
		svc.KeepPartitionState(rivers.PartitionState{Assigned: func(rivers.TopicPartition) {
			w.mu.Lock()
			defer w.mu.Unlock()
			clear(w.meters)
		}})
		return svc
	}
	var a watch
	ka := riverstest.New(t, newSvc("timers-a", &a), riverstest.WithBus(bus), riverstest.WithClock(clock))
	for i, m := range []string{"MTR-0", "MTR-1", "MTR-2"} {
		ka.Send(ka.Event(events.TypeMeterReading, reading(m, 230, riverstest.Start.Add(time.Duration(i)*time.Minute))), riverstest.OnTopic(rivers.Rapids))
	}
	b := watch{blocked: make(chan struct{}), release: make(chan struct{})}
	kb := riverstest.New(t, newSvc("timers-b", &b), riverstest.WithBus(bus), riverstest.WithClock(clock))
	select {
	case <-b.blocked:
	case <-time.After(10 * time.Second):
		t.Fatal("instance b did not replay the partition's history")
	}
	kb.Advance(time.Minute)
	b.mu.Lock()
	runs := slices.Clone(b.runs)
	b.mu.Unlock()
	if len(runs) != 0 {
		t.Errorf("instance b's timer ran %d times during the replay (state sizes %v), want none", len(runs), runs)
	}
	close(b.release)
	waitCond(t, "the replay done", func() bool {
		b.mu.Lock()
		defer b.mu.Unlock()
		return len(b.meters) == 3
	})
	// The replay's end marker is handled right after its last record: wait
	// for a timer run rather than assume it.
	waitCond(t, "instance b's timer to run after the replay", func() bool {
		kb.Advance(time.Minute)
		b.mu.Lock()
		defer b.mu.Unlock()
		return len(b.runs) > 0
	})
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.runs[0] != 3 {
		t.Errorf("instance b's timer first ran with %d meters, want the 3 the replay rebuilt", b.runs[0])
	}
}

// twoTopicWatch keeps state over two topics: the meters read on the
// rapids and the missed reads on the rivers, by where they came from.
type twoTopicWatch struct {
	mu                sync.Mutex
	state             map[string]bool // "rapids/MTR-0", "rivers/MTR-1"
	replayed          []string
	assigned, revoked []rivers.TopicPartition
}

func newTwoTopicService(t *testing.T, name string, w *twoTopicWatch) *rivers.Service {
	t.Helper()
	cfg := testConfig(name)
	cfg.Group = "two-topic-state"
	svc, err := rivers.NewService(cfg)
	if err != nil {
		t.Fatal(err)
	}
	w.state = map[string]bool{}
	note := func(ctx context.Context, key string) {
		d, _ := rivers.DeliveryFrom(ctx)
		w.mu.Lock()
		defer w.mu.Unlock()
		w.state[d.Topic+"/"+key] = true
		if d.Replay {
			w.replayed = append(w.replayed, d.Topic+"/"+key)
		}
	}
	svc.Handle(readingRiver(), func(ctx context.Context, ev rivers.Event, _ rivers.Publisher) error {
		m, err := ev.String("meter_id")
		note(ctx, m)
		return err
	})
	svc.Handle(rivers.NewRiver(events.TypeMeterReadingMissed).Named("missed").Require("meter_id"),
		func(ctx context.Context, ev rivers.Event, _ rivers.Publisher) error {
			m, err := ev.String("meter_id")
			note(ctx, m)
			return err
		})
	drop := func(list *[]rivers.TopicPartition) func(rivers.TopicPartition) {
		return func(tp rivers.TopicPartition) {
			w.mu.Lock()
			defer w.mu.Unlock()
			for k := range w.state {
				if strings.HasPrefix(k, tp.Topic+"/") {
					delete(w.state, k)
				}
			}
			*list = append(*list, tp)
		}
	}
	svc.KeepPartitionState(rivers.PartitionState{Topics: []rivers.Topic{rivers.Rapids, rivers.Rivers},
		Assigned: drop(&w.assigned), Revoked: drop(&w.revoked)})
	return svc
}

// State kept over two topics is rebuilt from both on assignment, each
// topic's partitions with their own replay, and dropped from both on
// revocation.
func TestPartitionStateOverTwoTopics(t *testing.T) {
	bus := riverstest.NewBus()
	clock := riverstest.NewClock(riverstest.Start)
	var a, b twoTopicWatch
	ka := riverstest.New(t, newTwoTopicService(t, "two-a", &a), riverstest.WithBus(bus), riverstest.WithClock(clock))
	at := riverstest.Start.Add(-time.Hour)
	ka.Send(ka.Event(events.TypeMeterReading, reading("MTR-0", 230, at)), riverstest.OnTopic(rivers.Rapids))
	ka.Send(ka.Event(events.TypeMeterReadingMissed, events.MeterReadingMissed{MeterID: "MTR-1", TransformerID: "TX-0042",
		FeederID: "FDR-07", ExpectedAt: at, IntervalSeconds: 900, GraceSeconds: 1800, ConsecutiveMissed: 1, DetectedAt: at.Add(time.Hour)}),
		riverstest.OnTopic(rivers.Rivers))
	want := map[string]bool{"rapids/MTR-0": true, "rivers/MTR-1": true}
	a.mu.Lock()
	got := maps.Clone(a.state)
	a.mu.Unlock()
	if !maps.Equal(got, want) {
		t.Fatalf("member a's state %v, want %v", got, want)
	}

	kb := riverstest.New(t, newTwoTopicService(t, "two-b", &b), riverstest.WithBus(bus), riverstest.WithClock(clock))
	kb.Send(kb.Event(events.TypeMeterReading, reading("MTR-2", 230, at.Add(15*time.Minute))), riverstest.OnTopic(rivers.Rapids))
	want["rapids/MTR-2"] = true
	b.mu.Lock()
	got, replayed := maps.Clone(b.state), slices.Sorted(slices.Values(b.replayed))
	assigned := slices.Clone(b.assigned)
	b.mu.Unlock()
	if !maps.Equal(got, want) {
		t.Errorf("member b's state %v, want %v (both topics replayed)", got, want)
	}
	if !slices.Equal(replayed, []string{"rapids/MTR-0", "rivers/MTR-1"}) {
		t.Errorf("member b replayed %v, want the reading and the missed read", replayed)
	}
	if len(assigned) != 2 {
		t.Errorf("member b was assigned %v, want a partition of each topic", assigned)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		a.mu.Lock()
		n, revoked := len(a.state), len(a.revoked)
		a.mu.Unlock()
		if n == 0 && revoked == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("member a: %d revoked, state of %d; want both topics' partitions revoked, the state dropped", revoked, n)
		}
		time.Sleep(time.Millisecond)
	}
}
