package catalogdoc

import (
	"bytes"
	_ "embed"
	"fmt"
	"strconv"
	"strings"
	"text/template"
	"unicode"

	"github.com/watershed-grid/watershed/contracts/catalog"
)

// asyncAPITemplate is the hand-written part of asyncapi.yaml (info,
// servers, channel and operation texts, the CloudEvents headers) around
// what the schemas say about each type.
//
//go:embed asyncapi.yaml.tmpl
var asyncAPITemplate string

var asyncAPI = template.Must(template.New("asyncapi").
	Funcs(template.FuncMap{"quote": yamlQuote}).
	Parse(asyncAPITemplate))

// asyncAPIData is what the template reads: every type of the catalog,
// sorted.
type asyncAPIData struct {
	Messages []catalog.Info
}

// On returns the messages whose schema names channel.
func (d asyncAPIData) On(channel string) []catalog.Info {
	var out []catalog.Info
	for _, m := range d.Messages {
		if m.Channel == channel {
			out = append(out, m)
		}
	}
	return out
}

// AsyncAPI is contracts/asyncapi.yaml as the schemas of c make it: a
// message per type (title and summary from the schema, headers pinning its
// ce_type and ce_dataschema, the Kafka key from x-watershed.key), listed on
// its schema's channel and that channel's dead-letter channel.
func AsyncAPI(c *catalog.Catalog) ([]byte, error) {
	var d asyncAPIData
	for _, typ := range c.Types() {
		info, err := c.Info(typ)
		if err != nil {
			return nil, err
		}
		switch {
		case info.Channel != "rapids" && info.Channel != "rivers":
			return nil, fmt.Errorf("%s: channel %q: the AsyncAPI document knows rapids and rivers", typ, info.Channel)
		case info.Key == "":
			return nil, fmt.Errorf("%s: no x-watershed key: every message names its Kafka record key", typ)
		}
		d.Messages = append(d.Messages, info)
	}
	var b bytes.Buffer
	if err := asyncAPI.Execute(&b, d); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// yamlQuote writes s as a YAML flow scalar: single-quoted (” for a
// quote), or double-quoted with escapes when s holds a line break or
// another control character, which single quotes would fold.
func yamlQuote(s string) string {
	if strings.IndexFunc(s, unicode.IsControl) >= 0 {
		return strconv.QuoteToASCII(s)
	}
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}
