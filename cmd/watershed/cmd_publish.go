package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/watershed-grid/watershed/cmd/watershed/internal/ecosystem"
	"github.com/watershed-grid/watershed/contracts"
	"github.com/watershed-grid/watershed/contracts/catalog"
	"github.com/watershed-grid/watershed/rapids"
	"github.com/watershed-grid/watershed/rivers"
)

func newPublishCmd() *cobra.Command {
	var (
		data    string
		key     string
		source  string
		topic   string
		ttl     time.Duration
		at      string
		brokers []string
		ctlKey  string
		ctlID   string
	)
	cmd := &cobra.Command{
		Use:   "publish <type>",
		Short: "Publish one event by hand, validated against the catalog",
		Long: `publish builds one CloudEvent of the given type from a JSON payload,
validates the payload against the type's schema in the contracts catalog,
fills in the envelope (a new id, source, time, use-by, partition key from
the type's key property) and publishes it to the type's topic in Kafka
binary mode. It prints the event's id, topic, key and use-by.

Use it to try a service by hand: the events it publishes are what a
producer would publish, so the service's rivers see them like any other.`,
		Example: `  watershed publish meter.reading.v1 --data @reading.json
  echo '{"meter_id":"MTR-1",...}' | watershed publish meter.reading.v1 --data -
  watershed publish outage.suspected.v1 --data @outage.json --ttl 30m`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			payload, err := readPayload(data, cmd.InOrStdin())
			if err != nil {
				return err
			}
			cfg, err := kafkaConfig(cmd, brokers)
			if err != nil {
				return err
			}
			ev, rec, err := buildEvent(args[0], payload, publishOptions{key: key, source: source, topic: topic, ttl: ttl, at: at}, cfg.WithDefaults())
			if err != nil {
				return err
			}
			signed, err := signControl(cmd, ev.Type, &rec, ctlKey, ctlID)
			if err != nil {
				return err
			}
			p, err := rapids.NewProducer(cfg)
			if err != nil {
				return err
			}
			defer p.Close()
			if err := p.Publish(cmd.Context(), rec); err != nil {
				return fmt.Errorf("publish %s to %s: %w", ev.Type, rec.Topic, err)
			}
			expiry := "never"
			if !ev.ExpiryTime.IsZero() {
				expiry = ev.ExpiryTime.Format(time.RFC3339)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "published %s %s to %s (key %q, use-by %s%s)\n", ev.Type, ev.ID, rec.Topic, ev.PartitionKey, expiry, signed)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&data, "data", "", "the JSON payload: inline, @file, or - for standard input (required)")
	f.StringVar(&key, "key", "", "partition key (default: the payload's key property named by the catalog)")
	f.StringVar(&source, "source", "/services/watershed-cli", "ce_source of the event")
	f.StringVar(&topic, "topic", "", "topic (default: the type's channel in the catalog, with KAFKA_TOPIC_* names)")
	f.DurationVar(&ttl, "ttl", 24*time.Hour, "use-by: expirytime = now + ttl; 0: never expires")
	f.StringVar(&at, "time", "", "ce_time, RFC 3339 (default: now)")
	f.StringSliceVar(&brokers, "brokers", nil, "broker host:port list (default: KAFKA_BROKERS, else the watershed dev running in ./.watershed, else 127.0.0.1:9092)")
	f.StringVar(&ctlKey, "control-key", "", "sign a control event (retirement, command) with this Ed25519 key, PEM (default: the operator key of the watershed dev in ./.watershed, if any)")
	f.StringVar(&ctlID, "control-key-id", "operator", "the key's id in the services' trust list (CONTROL_TRUST_FILE)")
	_ = cmd.MarkFlagRequired("data")
	return cmd
}

type publishOptions struct {
	key, source, topic string
	ttl                time.Duration
	at                 string
}

// readPayload reads --data: inline JSON, @file or - (standard input).
func readPayload(data string, stdin io.Reader) ([]byte, error) {
	var b []byte
	var err error
	switch {
	case data == "-":
		b, err = io.ReadAll(io.LimitReader(stdin, contracts.DefaultMaxEventBytes+1))
	case strings.HasPrefix(data, "@"):
		b, err = os.ReadFile(data[1:])
	default:
		b = []byte(data)
	}
	if err != nil {
		return nil, fmt.Errorf("--data %s: %w", data, err)
	}
	if !json.Valid(b) {
		return nil, fmt.Errorf("--data: not JSON (give an object such as '{\"meter_id\":\"MTR-1\"}', @file or -)")
	}
	return b, nil
}

// buildEvent makes the event and its record: the catalog decides the
// schema, the topic and the key property.
func buildEvent(typ string, payload []byte, o publishOptions, cfg rapids.Config) (contracts.Event, rapids.Record, error) {
	cat := catalog.Default()
	info, err := cat.Info(typ)
	if err != nil {
		return contracts.Event{}, rapids.Record{}, fmt.Errorf("%w (known types: %s)", err, strings.Join(cat.Types(), ", "))
	}
	if err := cat.Validate(typ, payload); err != nil {
		return contracts.Event{}, rapids.Record{}, fmt.Errorf("the payload breaks the %s schema: %w", typ, err)
	}
	ev, err := contracts.New(o.source, typ, json.RawMessage(payload))
	if err != nil {
		return contracts.Event{}, rapids.Record{}, err
	}
	ev.DataSchema = info.SchemaID
	now := time.Now().UTC()
	ev.Time = now
	if o.at != "" {
		if ev.Time, err = time.Parse(time.RFC3339Nano, o.at); err != nil {
			return contracts.Event{}, rapids.Record{}, fmt.Errorf("--time %q: want RFC 3339, e.g. 2026-03-01T10:15:00Z", o.at)
		}
	}
	if o.ttl > 0 {
		ev.ExpiryTime = now.Add(o.ttl)
	}
	ev.PartitionKey = o.key
	if ev.PartitionKey == "" && info.Key != "" {
		var m map[string]json.RawMessage
		if json.Unmarshal(payload, &m) == nil {
			_ = json.Unmarshal(m[info.Key], &ev.PartitionKey)
		}
	}
	topic := o.topic
	if topic == "" {
		switch info.Channel {
		case "rapids":
			topic = cfg.Topics.Rapids
		default:
			topic = cfg.Topics.Rivers
		}
	}
	rec, err := rapids.NewRecord(topic, ev)
	return ev, rec, err
}

// signControl signs rec when typ is a control type (the catalog's
// x-watershed.control), with --control-key, else the operator key of the
// watershed dev in ./.watershed. It returns what to add to the report.
func signControl(cmd *cobra.Command, typ string, rec *rapids.Record, keyFile, id string) (string, error) {
	info, err := catalog.Default().Info(typ)
	if err != nil || !info.Control {
		if keyFile != "" {
			return "", fmt.Errorf("--control-key: %s is not a control event type; only control events are signed", typ)
		}
		return "", nil
	}
	if keyFile == "" {
		dev := filepath.Join(defaultDataDir, "keys", ecosystem.OperatorSigner+".pem")
		if _, err := os.Stat(dev); err != nil {
			fmt.Fprintf(cmd.ErrOrStderr(), "warning: %s is a control event and is sent unsigned: services with a trust list (CONTROL_TRUST_FILE) dead-letter it; sign it with --control-key\n", typ)
			return ", unsigned", nil
		}
		keyFile = dev
	}
	key, err := rivers.LoadControlKey(keyFile)
	if err != nil {
		return "", fmt.Errorf("--control-key: %w", err)
	}
	r := rivers.Record{Topic: rec.Topic, Key: rec.Key, Value: rec.Value, Headers: rec.Headers}
	rivers.SignControl(&r, id, key)
	rec.Headers = r.Headers
	return ", signed as " + id, nil
}
