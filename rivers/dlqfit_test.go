package rivers

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"testing"

	"github.com/watershed-grid/watershed/contracts"
)

func TestFitDeadLetter(t *testing.T) {
	rec := Record{Topic: "rapids", Partition: 1, Offset: 7, Key: []byte("M1"), Value: bytes.Repeat([]byte("v"), 5000),
		Headers: []contracts.Header{{Key: contracts.HeaderID, Value: []byte("e1")}, {Key: contracts.HeaderType, Value: []byte("meter.reading.v1")}}}
	info := DeadLetterInfo{Service: "s", Class: ClassMalformed, Err: errors.New("bad"), MaxBytes: 100_000}

	whole := NewDeadLetter(rec, info)
	if !bytes.Equal(whole.Value, rec.Value) {
		t.Fatal("a letter that fits lost its value")
	}
	if _, ok := contracts.HeaderValue(whole.Headers, HeaderDLQOmitted); ok {
		t.Fatal("a letter that fits says it omitted something")
	}

	info.MaxBytes = 4000
	cut := NewDeadLetter(rec, info)
	if RecordBytes(cut) > info.MaxBytes {
		t.Fatalf("fitted letter is %d bytes, limit %d", RecordBytes(cut), info.MaxBytes)
	}
	d, err := ParseDeadLetter(cut)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(rec.Value)
	if d.Omitted != "value" || len(cut.Value) != 0 || d.PayloadBytes != 5000 || d.PayloadSHA256 != hex.EncodeToString(sum[:]) ||
		d.OriginTopic != "rapids" || d.OriginPartition != 1 || d.OriginOffset != 7 || string(cut.Key) != "M1" || len(d.Message.Headers) != 2 {
		t.Fatalf("fitted letter %+v", d)
	}

	// Huge headers: the minimal form keeps only short ce_ headers.
	rec.Headers = append(rec.Headers, contracts.Header{Key: contracts.HeaderSource, Value: bytes.Repeat([]byte("s"), 8000)})
	rec.Key = bytes.Repeat([]byte("k"), 2000)
	min := NewDeadLetter(rec, info)
	if RecordBytes(min) > info.MaxBytes || len(min.Key) != 0 || len(min.Value) != 0 {
		t.Fatalf("minimal letter: %d bytes, key %d, value %d", RecordBytes(min), len(min.Key), len(min.Value))
	}
	d, err = ParseDeadLetter(min)
	if err != nil {
		t.Fatal(err)
	}
	if d.Omitted != "value,key,headers" || d.PayloadBytes != 5000 || len(d.Message.Headers) != 2 || d.Class != ClassMalformed {
		t.Fatalf("minimal letter %+v", d)
	}
	if again := MinimalDeadLetter(min); RecordBytes(again) != RecordBytes(min) {
		t.Fatal("MinimalDeadLetter is not idempotent")
	}
}
