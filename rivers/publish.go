package rivers

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/watershed-grid/watershed/contracts"
)

// Publisher publishes new events. In a handler it derives them from the
// event being handled (see [contracts.Event.Derive]): a new id, causation
// id = the cause's id, correlation id carried over, hop count + 1, this
// service appended to the participants; the Kafka key defaults to the
// payload's key property named by the catalog (x-watershed.key), else to
// the cause's key. From a timer or [Service.Publish] the events are origins.
//
// Publish builds the event, sets its use-by (expirytime = now + the type's
// TTL, see Config.TTLs, unless an option says otherwise) and validates it
// against its schema before anything is sent. It returns [ErrRetired] for a
// retired type (the event is withheld and counted), an error wrapping
// [ErrInvalidEvent] (permanent) for a payload that breaks its schema, and
// nil once the event is accepted. A handler's publications are sent when it
// returns nil, before its event's offset is committed.
type Publisher interface {
	Publish(ctx context.Context, typ string, data any, opts ...PublishOption) error
}

// PublishOption adjusts one publication.
type PublishOption func(*publishOptions)

type publishOptions struct {
	key     *string
	id      string
	subject string
	ttl     *time.Duration
	expiry  time.Time
	at      time.Time
	topic   Topic
}

// WithID sets ce_id. Default: a new UUIDv7. A conclusion that another
// instance may reach again (a missed read, a closed window: see
// [PartitionState]) takes an id derived from what it is about, so that a
// re-declaration is the same event to every consumer's de-duplication.
// [DerivedID] makes one.
func WithID(id string) PublishOption { return func(o *publishOptions) { o.id = id } }

// DerivedID returns a stable event id for parts: a UUID (version 8, per
// RFC 9562) made of the SHA-256 of the parts, so equal parts always give
// the same id and different parts, in practice, different ids.
func DerivedID(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	var u [16]byte
	copy(u[:], h.Sum(nil))
	u[6] = u[6]&0x0f | 0x80 // version 8
	u[8] = u[8]&0x3f | 0x80 // RFC 9562 variant
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}

// WithKey sets the Kafka record key (the partition key: the entity the
// event describes). Default: the payload's key property named by the
// catalog, else the cause's key, else none.
func WithKey(key string) PublishOption { return func(o *publishOptions) { o.key = &key } }

// WithSubject sets ce_subject. Default none.
func WithSubject(subject string) PublishOption {
	return func(o *publishOptions) { o.subject = subject }
}

// WithTTL sets the use-by to now + d; d < 0 means the event never expires.
// Default: the type's TTL (Config.TTLs, Config.DefaultTTL).
func WithTTL(d time.Duration) PublishOption { return func(o *publishOptions) { o.ttl = &d } }

// WithExpiry sets the use-by date itself.
func WithExpiry(t time.Time) PublishOption { return func(o *publishOptions) { o.expiry = t } }

// WithTime sets ce_time, when the occurrence happened (a meter's read
// time). Default: now.
func WithTime(t time.Time) PublishOption { return func(o *publishOptions) { o.at = t } }

// ToTopic sends the event to topic t. Default: the type's channel in the
// catalog (x-watershed.channel), else [Rivers].
func ToTopic(t Topic) PublishOption { return func(o *publishOptions) { o.topic = t } }

// collector is the Publisher handlers and timers get: it validates and
// buffers records; the dispatcher sends them once the handler succeeds.
type collector struct {
	s     *Service
	cause *contracts.Event
	out   []Record
}

func (c *collector) Publish(ctx context.Context, typ string, data any, opts ...PublishOption) error {
	rec, err := c.s.build(ctx, c.cause, typ, data, opts)
	if err != nil {
		return err
	}
	c.out = append(c.out, rec)
	return nil
}

// attempt isolates one handler attempt: publications of a failed attempt
// are discarded, so a retry does not publish twice. It is the innermost
// middleware of every river and timer.
func attempt(next Handler) Handler {
	return func(ctx context.Context, ev Event, pub Publisher) error {
		d := deliveryOf(ctx)
		if d == nil || d.out == nil {
			return next(ctx, ev, pub)
		}
		mark := len(d.out.out)
		err := next(ctx, ev, pub)
		if err != nil && !isRetired(err) {
			d.out.out = d.out.out[:mark]
		}
		return err
	}
}

// build makes the record of one publication.
func (s *Service) build(ctx context.Context, cause *contracts.Event, typ string, data any, opts []PublishOption) (Record, error) {
	var o publishOptions
	for _, opt := range opts {
		opt(&o)
	}
	now := s.clock.Now()
	if s.retire.isRetired(typ, now) {
		s.tel.withheldType(typ)
		return Record{}, fmt.Errorf("rivers: publish %s: %w", typ, ErrRetired)
	}
	var ev contracts.Event
	var err error
	if cause != nil {
		ev, err = cause.Derive(s.source, typ, data)
	} else {
		ev, err = contracts.New(s.source, typ, data)
	}
	if err != nil {
		return Record{}, Permanent(fmt.Errorf("rivers: publish %s: %w: %w", typ, ErrInvalidEvent, err))
	}
	if err := s.validator.Validate(typ, ev.Data); err != nil {
		return Record{}, Permanent(fmt.Errorf("rivers: publish %s: %w: %w", typ, ErrInvalidEvent, err))
	}
	if o.id != "" {
		ev.ID = o.id
	}
	ev.Time = now.UTC()
	if !o.at.IsZero() {
		ev.Time = o.at.UTC()
	}
	ev.Subject = o.subject
	topic := o.topic
	if ti, ok := s.validator.(TypeDescriber); ok {
		if info, ierr := ti.Info(typ); ierr == nil {
			ev.DataSchema = info.SchemaID
			if topic == "" && info.Channel != "" {
				topic = Topic(info.Channel)
			}
			if o.key == nil && info.Key != "" {
				if k, ok := stringMember(ev.Data, info.Key); ok {
					ev.PartitionKey = k
				}
			}
		}
	}
	if o.key != nil {
		ev.PartitionKey = *o.key
	}
	switch {
	case !o.expiry.IsZero():
		ev.ExpiryTime = o.expiry.UTC()
	default:
		ttl := s.cfg.ttl(typ)
		if o.ttl != nil {
			ttl = *o.ttl
		}
		if ttl > 0 {
			ev.ExpiryTime = now.Add(ttl).UTC()
		}
	}
	msg, err := contracts.EncodeBinary(ev)
	if err != nil {
		return Record{}, Permanent(fmt.Errorf("rivers: publish %s: %w: %w", typ, ErrInvalidEvent, err))
	}
	rec := Record{Topic: s.cfg.topic(topic), Key: msg.Key, Value: msg.Value, Headers: msg.Headers}
	if len(rec.Key) == 0 {
		rec.Key = nil
	}
	s.tracing.inject(ctx, rec.Topic, &ev, &rec.Headers)
	if s.auth.signs(typ) {
		s.auth.sign(&rec)
	}
	s.observePublished(typ)
	return rec, nil
}

// stringMember returns the top-level string member name of a JSON object
// (valid JSON: it was just marshalled).
func stringMember(data json.RawMessage, name string) (string, bool) {
	raw, ok := find(scanObject(data), name)
	if !ok || len(raw) < 2 || raw[0] != '"' {
		return "", false
	}
	if !bytes.ContainsRune(raw, '\\') {
		return string(raw[1 : len(raw)-1]), len(raw) > 2
	}
	var s string
	if json.Unmarshal(raw, &s) != nil || s == "" {
		return "", false
	}
	return s, true
}

func isRetired(err error) bool { return errors.Is(err, ErrRetired) }
