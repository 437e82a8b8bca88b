package archive

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Extension ends the name of every object the archiver writes.
const Extension = ".parquet"

// ErrNotAnObject: a key that is not <topic>/ce_type=<type>/date=<YYYY-MM-DD>/<topic>+<partition>+<offset>.parquet.
var ErrNotAnObject = errors.New("archive: not a pond object key")

// Partition folder keys. The type folder is ce_type=, not type=: every
// file has a type column, and a Hive partition named like a column makes
// pyarrow (pandas) and Spark refuse to read the topic folder whole. No
// payload member is named ce_type either (system.retirement.v1 has an
// event_type).
// LegacyTypeKey is the key of ponds written before the rename: they are
// still read (List, cat) and their files still count for replays, so a
// pond can be migrated by renaming the folders at leisure.
const (
	TypeKey       = "ce_type"
	LegacyTypeKey = "type"
	DateKey       = "date"
)

// validName reports whether a topic or an event type can be part of a key:
// 1 to 249 characters of Kafka's topic alphabet [A-Za-z0-9._-], which
// Watershed's types also keep to, and not "." or "..".
func validName(s string) bool {
	if len(s) == 0 || len(s) > 249 || s == "." || s == ".." {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '.', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}

// offsetDigits pads offsets so that keys list in offset order.
const offsetDigits = 19

// Object is one Parquet file of the pond.
type Object struct {
	Key         string    // the full key in the bucket
	Topic       string    // Kafka topic the rows came from
	Type        string    // ce_type of every row
	Date        string    // UTC date of every row's event time, YYYY-MM-DD
	Partition   int       // Kafka partition the rows came from
	FirstOffset int64     // offset of the first row: the file's name
	Size        int64     // bytes, when listed
	ModTime     time.Time // when listed
}

// fileKey identifies the run of rows one file may hold: one topic, type,
// date and partition.
type fileKey struct {
	Topic     string
	Type      string
	Date      string
	Partition int
}

// dir is the key's folder: <topic>/ce_type=<type>/date=<date>/.
func (k fileKey) dir() string { return k.dirWith(TypeKey) }

func (k fileKey) dirWith(typeKey string) string {
	return k.Topic + "/" + typeKey + "=" + k.Type + "/" + DateKey + "=" + k.Date + "/"
}

// prefix starts the key of every file of k: <dir><topic>+<partition>+.
func (k fileKey) prefix() string { return k.prefixWith(TypeKey) }

// prefixWith is prefix in a layout whose type folder key is typeKey.
func (k fileKey) prefixWith(typeKey string) string {
	return k.dirWith(typeKey) + k.Topic + "+" + strconv.Itoa(k.Partition) + "+"
}

// object returns the key of k's file that starts at offset first.
func (k fileKey) object(first int64) string {
	return fmt.Sprintf("%s%0*d%s", k.prefix(), offsetDigits, first, Extension)
}

// ObjectKey returns the key of the file of topic, event type, UTC date
// (YYYY-MM-DD) and partition whose first row has offset first:
//
//	<topic>/ce_type=<type>/date=<date>/<topic>+<partition>+<first, 19 digits>.parquet
func ObjectKey(topic, eventType, date string, partition int, first int64) string {
	return fileKey{Topic: topic, Type: eventType, Date: date, Partition: partition}.object(first)
}

// ParseKey parses an object key (relative to the bucket) into an Object.
// It also takes the legacy layout's type=<type> folder.
func ParseKey(key string) (Object, error) {
	parts := strings.Split(key, "/")
	bad := func(why string) (Object, error) {
		return Object{}, fmt.Errorf("%w: %q: %s", ErrNotAnObject, key, why)
	}
	if len(parts) != 4 {
		return bad("want 4 path segments")
	}
	topic := parts[0]
	typ, ok := strings.CutPrefix(parts[1], TypeKey+"=")
	if !ok {
		typ, ok = strings.CutPrefix(parts[1], LegacyTypeKey+"=")
	}
	if !ok || !validName(typ) {
		return bad("second segment is not " + TypeKey + "=<ce_type>")
	}
	date, ok := strings.CutPrefix(parts[2], DateKey+"=")
	if _, err := time.Parse(time.DateOnly, date); !ok || err != nil {
		return bad("third segment is not date=YYYY-MM-DD")
	}
	name, ok := strings.CutSuffix(parts[3], Extension)
	if !ok {
		return bad("not a " + Extension + " file")
	}
	fields := strings.Split(name, "+")
	if len(fields) != 3 || fields[0] != topic || !validName(topic) {
		return bad("file name is not <topic>+<partition>+<offset>")
	}
	partition, err := strconv.Atoi(fields[1])
	if err != nil || partition < 0 {
		return bad("bad partition")
	}
	first, err := strconv.ParseInt(fields[2], 10, 64)
	if err != nil || first < 0 {
		return bad("bad offset")
	}
	return Object{Key: key, Topic: topic, Type: typ, Date: date, Partition: partition, FirstOffset: first}, nil
}
