package rivers_test

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/watershed-grid/watershed/rapids"
	"github.com/watershed-grid/watershed/rivers"
)

func TestRunFailsClearlyWithoutABroker(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	cfg := testConfig("lonely")
	cfg.Kafka = rapids.Config{Brokers: []string{addr}, DialTimeout: time.Second}
	svc, err := rivers.NewService(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	err = svc.Run(ctx)
	if err == nil || !strings.Contains(err.Error(), "ENSURE_TOPICS") || !strings.Contains(err.Error(), addr) {
		t.Errorf("Run without a broker: %v, want an error naming the brokers and ENSURE_TOPICS", err)
	}
}

func TestRunRefusesABusyHTTPAddress(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cfg := testConfig("busy-port")
	cfg.SkipEnsureTopics = true
	cfg.HTTPAddr = ln.Addr().String()
	svc, err := rivers.NewService(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "HTTP_ADDR") {
		t.Errorf("Run on a taken address: %v, want an error naming HTTP_ADDR", err)
	}
}
