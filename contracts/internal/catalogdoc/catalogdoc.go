// Package catalogdoc writes what the contracts module generates from the
// schemas, so a new event type is one schema file: the catalog table of
// contracts/README.md (between its markers), the AsyncAPI document
// contracts/asyncapi.yaml (around the hand-written asyncapi.yaml.tmpl),
// package events' payload structs (events/payloads_gen.go, the Go choices
// a schema does not make given by its x-go-* annotations) and its Type*
// constants, Types and NewPayload (events/types_gen.go). cmd/contracts-gen
// writes them; this package's tests fail while a checked-in file differs.
package catalogdoc

import (
	"fmt"
	"strings"

	"github.com/watershed-grid/watershed/contracts/catalog"
)

// The markers around the generated table in README.md.
const (
	Begin = "<!-- catalog table: generated from schemas/ by go generate; do not edit -->"
	End   = "<!-- end of catalog table -->"
)

// Table is the catalog as a Markdown table: type, channel, key and title
// of every schema, sorted by type.
func Table(c *catalog.Catalog) (string, error) {
	var b strings.Builder
	b.WriteString("| type | channel | key | what |\n|---|---|---|---|\n")
	for _, typ := range c.Types() {
		info, err := c.Info(typ)
		if err != nil {
			return "", err
		}
		key := "—"
		if info.Key != "" {
			key = "`" + info.Key + "`"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", typ, info.Channel, key, info.Title)
	}
	return b.String(), nil
}

// Rewrite returns readme with the text between Begin and End replaced by
// table.
func Rewrite(readme, table string) (string, error) {
	before, rest, ok := strings.Cut(readme, Begin+"\n")
	if !ok {
		return "", fmt.Errorf("no %q line", Begin)
	}
	_, after, ok := strings.Cut(rest, End)
	if !ok {
		return "", fmt.Errorf("no %q after %q", End, Begin)
	}
	return before + Begin + "\n" + table + End + after, nil
}
