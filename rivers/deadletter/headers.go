package deadletter

import (
	"strings"

	"github.com/watershed-grid/watershed/rivers"
)

// Dead-letter headers, as the rivers SDK writes them (see rivers.ParseDeadLetter).
const (
	HeaderOriginTopic     = rivers.HeaderDLQOriginTopic
	HeaderOriginPartition = rivers.HeaderDLQOriginPartition
	HeaderOriginOffset    = rivers.HeaderDLQOriginOffset
	HeaderErrorClass      = rivers.HeaderDLQErrorClass
	HeaderError           = rivers.HeaderDLQError
	HeaderRiver           = rivers.HeaderDLQRiver
	HeaderService         = rivers.HeaderDLQService
	HeaderFailedAt        = rivers.HeaderDLQTime
)

func isDeadLetterHeader(key string) bool { return strings.HasPrefix(key, "dlq_") }
