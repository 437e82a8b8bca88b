package hot_test

import (
	"github.com/watershed-grid/watershed/ponds/hot"
	"github.com/watershed-grid/watershed/rivers"
)

// The Redis duplicate store plugs into the rivers SDK.
var _ rivers.DedupStore = (*hot.DedupStore)(nil)
