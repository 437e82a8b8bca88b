package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/eclipse/paho.golang/autopaho"
	"github.com/eclipse/paho.golang/paho"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/watershed-grid/watershed/contracts"
	"github.com/watershed-grid/watershed/contracts/events"
	"github.com/watershed-grid/watershed/rapids"
	"github.com/watershed-grid/watershed/rivers"
)

// PumpInterval is how often the service's "mqtt" timer moves received
// messages to the rapids (and renews the connection's lease).
const PumpInterval = 50 * time.Millisecond

// maxBatch bounds the messages one pump handles.
const maxBatch = 5000

// SinkFunc stores records durably: where dead letters go.
type SinkFunc func(ctx context.Context, records ...rivers.Record) error

// message is one MQTT PUBLISH waiting to reach the rapids.
type message struct {
	topic    string
	payload  []byte
	received time.Time
	ack      func() // acknowledges it to the broker (QoS 1/2); nil for QoS 0
}

// Gateway bridges an MQTT broker to the rapids.
type Gateway struct {
	cfg  Config
	svc  *rivers.Service
	log  *slog.Logger
	sink SinkFunc

	inbox chan message
	retry []message // pump-only

	mu        sync.Mutex
	cm        *autopaho.ConnectionManager
	stop      context.CancelFunc
	producer  *rapids.Producer
	gen       atomic.Uint64 // connection generation: acks of an older one are dropped
	up        atomic.Bool
	lease     atomic.Int64 // wall clock (unix ns) of the last pump
	downSince atomic.Int64 // wall clock (unix ns) since the connection is down; 0 when up or never started

	received, published, dead, reconnects metric.Int64Counter

	meters         served // meters heard from: the downlink's
	commands, acks metric.Int64Counter
}

// Register adds the gateway to svc: a timer that connects to the broker on
// the service's first tick, keeps the connection while the service runs,
// and publishes each received payload as meter.reading.v1 on the rapids
// (dead-lettering the bad ones to rapids.dlq with origin "mqtt:<topic>"),
// plus a readiness check "mqtt".
func Register(svc *rivers.Service, cfg Config) error {
	_, err := newGateway(svc, cfg, nil)
	return err
}

func newGateway(svc *rivers.Service, cfg Config, sink SinkFunc) (*Gateway, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if _, err := cfg.tlsConfig(); err != nil {
		return nil, err
	}
	g := &Gateway{cfg: cfg, svc: svc, log: svc.Logger().With("component", "mqtt"), sink: sink, inbox: make(chan message, 4*maxBatch)}
	if g.sink == nil {
		g.sink = g.produce
	}
	m := svc.Meter()
	var err error
	for _, c := range []struct {
		dst  *metric.Int64Counter
		name string
		desc string
	}{
		{&g.received, "gateway_mqtt_messages_received_total", "MQTT messages received"},
		{&g.published, "gateway_readings_published_total", "meter.reading.v1 events published to the rapids"},
		{&g.dead, "gateway_messages_dead_lettered_total", "MQTT payloads dead-lettered, by class"},
		{&g.reconnects, "gateway_mqtt_connections_total", "MQTT connections made (1 + reconnections)"},
	} {
		if *c.dst, err = m.Int64Counter(c.name, metric.WithDescription(c.desc)); err != nil {
			return nil, err
		}
	}
	svc.Publishes(events.TypeMeterReading)
	if err := g.registerDownlink(); err != nil {
		return nil, err
	}
	svc.Every(PumpInterval, "mqtt", g.pump)
	svc.CheckReady("mqtt", g.ready)
	return g, nil
}

// downGrace is how long the connection may be down (or not yet up) before
// /readyz says so: reconnecting is normal, a long outage is not.
const downGrace = 10 * time.Second

// ready fails once the connection has been down for more than downGrace.
func (g *Gateway) ready(context.Context) error {
	if since := g.downSince.Load(); since != 0 && !g.up.Load() && time.Since(time.Unix(0, since)) > downGrace {
		return fmt.Errorf("not connected to %s for %s", redactURL(g.cfg.URL), time.Since(time.Unix(0, since)).Round(time.Second))
	}
	return nil
}

// Connected reports whether the MQTT connection is up.
func (g *Gateway) Connected() bool { return g.up.Load() }

// pump is the service's timer: it keeps the connection leased and moves
// received messages to the rapids.
func (g *Gateway) pump(ctx context.Context, _ time.Time, _ rivers.Publisher) error {
	g.lease.Store(time.Now().UnixNano())
	if err := g.connect(); err != nil {
		return rivers.Permanent(err)
	}
	batch := g.retry
	g.retry = nil
	for len(batch) < maxBatch {
		select {
		case m := <-g.inbox:
			batch = append(batch, m)
			continue
		default:
		}
		break
	}
	if len(batch) == 0 {
		return nil
	}
	g.retry = g.process(ctx, batch)
	return nil
}

// process publishes a batch, MaxInFlight at a time, and returns the
// messages to try again (Kafka refused them transiently).
func (g *Gateway) process(ctx context.Context, batch []message) []message {
	sem := make(chan struct{}, g.cfg.MaxInFlight)
	var mu sync.Mutex
	var again []message
	var wg sync.WaitGroup
	for _, m := range batch {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := g.handle(ctx, m); err != nil {
				g.log.Warn("message kept for retry", "topic", m.topic, "error", err)
				mu.Lock()
				again = append(again, m)
				mu.Unlock()
				return
			}
			if m.ack != nil {
				m.ack()
			}
		}()
	}
	wg.Wait()
	return again
}

// handle publishes one message, or dead-letters it when it can never
// become a reading. A returned error is transient.
func (g *Gateway) handle(ctx context.Context, m message) error {
	if meter, ok := MeterFromTopic(g.cfg.AckTopic, m.topic); ok && g.cfg.Downlink {
		err := g.publishAck(ctx, m, meter)
		if err == nil {
			return nil
		}
		if !errors.Is(err, rivers.ErrInvalidEvent) && !errors.Is(err, errBadAck) {
			return err
		}
		return g.deadLetterPayload(ctx, m, err)
	}
	r, data, err := Translate(g.cfg.Topic, m.topic, m.payload)
	if err == nil {
		g.meters.add(r.MeterID)
		// The id comes from the reading itself: a retried or re-sent
		// payload is the same event (ce_id) and is de-duplicated downstream.
		id := events.ReadingID(r.MeterID, r.ReadAt)
		err = g.svc.Publish(ctx, events.TypeMeterReading, contracts.Identified{ID: id, Data: json.RawMessage(data)},
			rivers.ToTopic(rivers.Rapids), rivers.WithKey(r.TransformerID), rivers.WithTime(m.received))
		if err == nil {
			g.published.Add(ctx, 1)
			return nil
		}
		if !errors.Is(err, rivers.ErrInvalidEvent) {
			return err
		}
	}
	return g.deadLetterPayload(ctx, m, err)
}

// deadLetterPayload dead-letters a payload that can never become an event.
func (g *Gateway) deadLetterPayload(ctx context.Context, m message, err error) error {
	class := rivers.ClassSchema
	var obj map[string]json.RawMessage
	if json.Unmarshal(m.payload, &obj) != nil {
		class = rivers.ClassMalformed
	}
	if derr := g.sink(ctx, g.deadLetter(m, class, err)); derr != nil {
		return fmt.Errorf("dead-letter: %w", derr)
	}
	g.dead.Add(ctx, 1, metric.WithAttributes(attribute.String("class", class)))
	g.log.Warn("payload dead-lettered", "topic", m.topic, "class", class, "error", err)
	return nil
}

// OriginPrefix starts the dlq_origin_topic of a dead-lettered MQTT payload:
// "mqtt:meters/MTR-1/reading".
const OriginPrefix = "mqtt:"

// deadLetter builds the rapids.dlq record of a payload: its bytes as the
// value, the meter id of the topic (if any) as the key, and the SDK's dlq_
// headers with the MQTT topic as origin.
func (g *Gateway) deadLetter(m message, class string, cause error) rivers.Record {
	rc := g.svc.Config()
	msg := cause.Error()
	if len(msg) > 1024 {
		msg = msg[:1024]
	}
	now := time.Now().UTC().Format(time.RFC3339Nano)
	h := func(k, v string) contracts.Header { return contracts.Header{Key: k, Value: []byte(v)} }
	rec := rivers.Record{
		Topic: rapids.DLQ(rc.Kafka.Topics.Rapids),
		Value: m.payload,
		Headers: []contracts.Header{
			h(rivers.HeaderDLQOriginTopic, OriginPrefix+m.topic),
			h(rivers.HeaderDLQOriginPartition, "-1"),
			h(rivers.HeaderDLQOriginOffset, "-1"),
			h(rivers.HeaderDLQOriginTime, m.received.UTC().Format(time.RFC3339Nano)),
			h(rivers.HeaderDLQConsumerGroup, ""),
			h(rivers.HeaderDLQService, rc.Name),
			h(rivers.HeaderDLQInstance, rc.Instance),
			h(rivers.HeaderDLQRiver, ""),
			h(rivers.HeaderDLQErrorClass, class),
			h(rivers.HeaderDLQError, msg),
			h(rivers.HeaderDLQAttempts, strconv.Itoa(0)),
			h(rivers.HeaderDLQTime, now),
		},
	}
	if id, ok := MeterFromTopic(g.cfg.Topic, m.topic); ok {
		rec.Key = []byte(id)
	}
	return rec
}

// produce is the default sink: a rapids producer of the gateway's own.
func (g *Gateway) produce(ctx context.Context, recs ...rivers.Record) error {
	g.mu.Lock()
	if g.producer == nil {
		p, err := rapids.NewProducer(g.svc.Config().Kafka)
		if err != nil {
			g.mu.Unlock()
			return err
		}
		g.producer = p
	}
	p := g.producer
	g.mu.Unlock()
	out := make([]rapids.Record, len(recs))
	for i, r := range recs {
		out[i] = rapids.Record{Topic: r.Topic, Key: r.Key, Value: r.Value, Headers: r.Headers}
	}
	return p.Publish(ctx, out...)
}

// connect starts the connection manager once; autopaho reconnects (and
// resubscribes, in OnConnectionUp) on its own after a loss.
func (g *Gateway) connect() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.cm != nil {
		return nil
	}
	u, _ := url.Parse(g.cfg.URL)
	tlsCfg, err := g.cfg.tlsConfig()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	backoff := g.cfg.ReconnectBackoff
	cc := autopaho.ClientConfig{
		ServerUrls:                    []*url.URL{u},
		TlsCfg:                        tlsCfg,
		KeepAlive:                     uint16(g.cfg.KeepAlive / time.Second),
		CleanStartOnInitialConnection: false,
		SessionExpiryInterval:         uint32(g.cfg.SessionExpiry / time.Second),
		ReconnectBackoff: func(n int) time.Duration {
			return min(backoff*time.Duration(1<<min(n, 4)), 10*backoff)
		},
		ConnectTimeout:  10 * time.Second,
		ConnectUsername: g.cfg.Username,
		ConnectPassword: []byte(g.cfg.Password),
		OnConnectionUp: func(cm *autopaho.ConnectionManager, _ *paho.Connack) {
			g.gen.Add(1)
			g.up.Store(true)
			g.downSince.Store(0)
			g.reconnects.Add(context.Background(), 1)
			g.log.Info("mqtt connected", "url", redactURL(g.cfg.URL), "topic", g.cfg.Topic)
			sctx, scancel := context.WithTimeout(ctx, 10*time.Second)
			defer scancel()
			subs := []paho.SubscribeOptions{{Topic: g.cfg.Topic, QoS: byte(g.cfg.QoS)}}
			if g.cfg.Downlink {
				subs = append(subs, paho.SubscribeOptions{Topic: g.cfg.AckTopic, QoS: 1})
			}
			if _, err := cm.Subscribe(sctx, &paho.Subscribe{Subscriptions: subs}); err != nil {
				g.log.Error("mqtt subscribe failed", "topics", []string{g.cfg.Topic, g.cfg.AckTopic}, "error", err)
			}
		},
		OnConnectionDown: func() bool {
			g.up.Store(false)
			g.downSince.Store(time.Now().UnixNano())
			g.log.Warn("mqtt connection lost; reconnecting", "url", redactURL(g.cfg.URL))
			return true
		},
		OnConnectError: func(err error) { g.log.Warn("mqtt connect failed", "url", redactURL(g.cfg.URL), "error", err) },
		ClientConfig: paho.ClientConfig{
			ClientID:                   g.cfg.ClientID,
			EnableManualAcknowledgment: true,
			OnPublishReceived:          []func(paho.PublishReceived) (bool, error){g.receive},
			OnClientError:              func(err error) { g.log.Warn("mqtt client error", "error", err) },
		},
	}
	cm, err := autopaho.NewConnection(ctx, cc)
	if err != nil {
		cancel()
		return fmt.Errorf("mqtt %s: %w", redactURL(g.cfg.URL), err)
	}
	g.cm, g.stop = cm, cancel
	g.downSince.Store(time.Now().UnixNano())
	go g.watch(ctx)
	return nil
}

// receive queues one PUBLISH; it is acknowledged once it is on the rapids
// (or in the dead-letter topic).
func (g *Gateway) receive(pr paho.PublishReceived) (bool, error) {
	g.received.Add(context.Background(), 1)
	m := message{topic: pr.Packet.Topic, payload: pr.Packet.Payload, received: time.Now()}
	if pr.Packet.QoS > 0 {
		gen, cli, pkt := g.gen.Load(), pr.Client, pr.Packet
		m.ack = func() {
			if g.gen.Load() == gen { // the broker redelivers what an old connection did not ack
				_ = cli.Ack(pkt)
			}
		}
	}
	g.inbox <- m
	return true, nil
}

// watch closes the connection once the lease lapses: the service stopped.
func (g *Gateway) watch(ctx context.Context) {
	t := time.NewTicker(g.cfg.LeaseTimeout / 5)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if time.Since(time.Unix(0, g.lease.Load())) > g.cfg.LeaseTimeout {
			g.Close()
			return
		}
	}
}

// Close disconnects from the broker and closes the dead-letter producer.
// Messages not yet on the rapids are not acknowledged: the broker delivers
// them again to the next session. The next pump reconnects.
func (g *Gateway) Close() error {
	g.mu.Lock()
	cm, stop, p := g.cm, g.stop, g.producer
	g.cm, g.stop, g.producer = nil, nil, nil
	g.mu.Unlock()
	var errs []error
	if cm != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		if err := cm.Disconnect(ctx); err != nil && !errors.Is(err, context.Canceled) {
			errs = append(errs, err)
		}
		cancel()
		stop()
		g.up.Store(false)
		g.downSince.Store(0)
		g.log.Info("mqtt disconnected")
	}
	if p != nil {
		errs = append(errs, p.Close())
	}
	return errors.Join(errs...)
}
