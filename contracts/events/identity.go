package events

import (
	"crypto/sha1"
	"time"
)

// ReadingNamespace is the UUID namespace of reading ids:
// f02eb91a-b498-5a5b-9db2-a901b1805e53, the name-based (SHA-1) UUID of the
// URL https://watershed.dev/schemas/meter.reading.v1.json in the RFC 9562
// URL namespace.
var ReadingNamespace = [16]byte{0xf0, 0x2e, 0xb9, 0x1a, 0xb4, 0x98, 0x5a, 0x5b, 0x9d, 0xb2, 0xa9, 0x01, 0xb1, 0x80, 0x5e, 0x53}

// ReadingID returns the event id (ce_id) of the meter.reading.v1 of meter
// meterID read at readAt: a UUIDv5 (RFC 9562 §5.5) in ReadingNamespace of
// the name meterID + "\n" + readAt in UTC as RFC 3339 with nanoseconds
// (time.RFC3339Nano). The same reading published twice — a simulator
// restart, a gateway retry, a replay — has the same id, so every consumer's
// de-duplication drops the copy. The id depends only on the meter and the
// instant (not on readAt's location nor on the reading's values) and is
// part of the contract: it never changes across versions.
func ReadingID(meterID string, readAt time.Time) string {
	var buf [36]byte
	return string(AppendReadingID(buf[:0], meterID, readAt))
}

// AppendReadingID appends ReadingID(meterID, readAt) to dst, without
// allocating when dst has room (36 bytes) and meterID is short.
func AppendReadingID(dst []byte, meterID string, readAt time.Time) []byte {
	var nameBuf [16 + 128 + 1 + 35]byte
	name := append(nameBuf[:0], ReadingNamespace[:]...)
	name = append(name, meterID...)
	name = append(name, '\n')
	name = readAt.UTC().AppendFormat(name, time.RFC3339Nano)
	sum := sha1.Sum(name)
	sum[6] = sum[6]&0x0f | 0x50 // version 5
	sum[8] = sum[8]&0x3f | 0x80 // RFC 9562 variant
	const hexDigits = "0123456789abcdef"
	for i, b := range sum[:16] {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			dst = append(dst, '-')
		}
		dst = append(dst, hexDigits[b>>4], hexDigits[b&0x0f])
	}
	return dst
}
