package deadletter

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"strconv"

	"github.com/watershed-grid/watershed/rapids"
)

// Cursor is where a paged read resumes: the next offset per
// "topic/partition". The zero Cursor starts at the beginning.
type Cursor map[string]int64

func rangeKey(pr rapids.PartitionRange) string { return pr.Topic + "/" + strconv.Itoa(pr.Partition) }

func (c Cursor) clone() Cursor {
	if c == nil {
		return Cursor{}
	}
	return maps.Clone(c)
}

// String encodes c for a URL; "" for the zero Cursor.
func (c Cursor) String() string {
	if len(c) == 0 {
		return ""
	}
	b, _ := json.Marshal(map[string]int64(c))
	return base64.RawURLEncoding.EncodeToString(b)
}

// ParseCursor decodes a Cursor.String; "" is the zero Cursor.
func ParseCursor(s string) (Cursor, error) {
	if s == "" {
		return nil, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) > 1<<16 {
		return nil, fmt.Errorf("dlq: cursor is not one this service gave")
	}
	var c Cursor
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("dlq: cursor is not one this service gave")
	}
	for _, o := range c {
		if o < 0 {
			return nil, fmt.Errorf("dlq: cursor is not one this service gave")
		}
	}
	return c, nil
}
