package template

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"go/format"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"text/template"

	"github.com/watershed-grid/watershed/contracts/events"
)

//go:embed all:skeleton all:typed
var skeleton embed.FS

// ModuleRoot is the module path every Watershed module starts with.
const ModuleRoot = "github.com/watershed-grid/watershed"

// Options say what to render. Only Name is required.
type Options struct {
	// Name is the service's name: lower-case letters, digits and dashes,
	// starting with a letter ("gap-detector").
	Name string
	// Module is the new module's path. Default
	// ModuleRoot + "/services/" + Name.
	Module string
	// Root is the path from the new module's directory to the repository
	// root, for the replace directives of go.mod. Default "../..": the
	// module lives in services/<name>.
	Root string
	// Consumes are the event types the service reads, one river each, on
	// their topics in the catalog. Empty: the voltage-watch example.
	Consumes []string
	// Publishes are the event types it derives from each consumed one,
	// through a mapping stub per pair. It needs Consumes.
	Publishes []string
}

// Data is what the skeleton's templates see.
type Data struct {
	Name    string // gap-detector
	Package string // gapdetector
	Module  string // github.com/watershed-grid/watershed/services/gap-detector
	Root    string // ../..
	Title   string // Gap detector

	// Of a typed service (Options.Consumes); empty for the example.
	Consumes  []*Event
	Publishes []*Event
	Mappings  []Mapping
}

// Summary says what a typed service does: "reads usage.interval.v1 (Usage
// interval) from the rivers and publishes ...".
func (d Data) Summary() string {
	var in, out []string
	for _, e := range d.Consumes {
		in = append(in, fmt.Sprintf("%s (%s) from the %s", e.Type, e.Title, e.Channel))
	}
	for _, e := range d.Publishes {
		out = append(out, fmt.Sprintf("%s (%s)", e.Type, e.Title))
	}
	s := "reads " + strings.Join(in, ", ")
	if len(out) > 0 {
		s += " and publishes " + strings.Join(out, ", ") + ", derived from what it reads"
	}
	return s
}

// From returns the mappings that derive from the consumed type typ.
func (d Data) From(typ string) []Mapping {
	var out []Mapping
	for _, m := range d.Mappings {
		if m.From.Type == typ {
			out = append(out, m)
		}
	}
	return out
}

var namePattern = regexp.MustCompile(`^[a-z][a-z0-9-]{0,63}$`)

// Render writes a new service module named name into dst (created; it must
// not exist or be empty), laid out for services/<name> in the repository.
// Run `go mod tidy` in dst afterwards to fill go.sum.
func Render(dst, name string) error { return RenderWith(dst, Options{Name: name}) }

// RenderWith is Render with every option.
func RenderWith(dst string, o Options) error {
	if !namePattern.MatchString(o.Name) || strings.HasSuffix(o.Name, "-") || strings.Contains(o.Name, "--") {
		return fmt.Errorf("template: service name %q: use lower-case letters, digits and single dashes, starting with a letter", o.Name)
	}
	if o.Module == "" {
		o.Module = ModuleRoot + "/services/" + o.Name
	}
	if o.Root == "" {
		o.Root = "../.."
	}
	d := Data{
		Name:    o.Name,
		Package: strings.ReplaceAll(o.Name, "-", ""),
		Module:  o.Module,
		Root:    filepath.ToSlash(o.Root),
		Title:   strings.ToUpper(o.Name[:1]) + strings.ReplaceAll(o.Name[1:], "-", " "),
	}
	if err := d.resolve(o); err != nil {
		return err
	}
	if entries, err := os.ReadDir(dst); err == nil && len(entries) > 0 {
		return fmt.Errorf("template: %s exists and is not empty", dst)
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("template: %w", err)
	}
	files, err := sources(len(d.Consumes) > 0)
	if err != nil {
		return err
	}
	funcs := template.FuncMap{"quote": quote, "join": strings.Join, "wrap": wrap}
	for _, f := range files {
		rel := strings.ReplaceAll(f.rel, "service/", d.Package+"/")
		src, err := skeleton.ReadFile(f.path)
		if err != nil {
			return err
		}
		t, err := template.New(rel).Delims("[[", "]]").Option("missingkey=error").Funcs(funcs).Parse(string(src))
		if err != nil {
			return fmt.Errorf("template: %s: %w", f.path, err)
		}
		var out bytes.Buffer
		if err := t.Execute(&out, d); err != nil {
			return fmt.Errorf("template: %s: %w", f.path, err)
		}
		b := out.Bytes()
		if len(bytes.TrimSpace(b)) == 0 {
			continue // a file the options leave empty (mapping.go with nothing published)
		}
		if strings.HasSuffix(rel, ".go") {
			// The typed skeleton's lists leave gofmt's alignment to gofmt.
			if b, err = format.Source(b); err != nil {
				return fmt.Errorf("template: %s renders to Go that does not parse: %w\n%s", f.path, err, out.Bytes())
			}
		}
		target := filepath.Join(dst, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			return fmt.Errorf("template: %w", err)
		}
		if err := os.WriteFile(target, b, 0o644); err != nil {
			return fmt.Errorf("template: %w", err)
		}
	}
	return nil
}

// resolve fills in the typed skeleton's data from the catalog.
func (d *Data) resolve(o Options) error {
	if len(o.Publishes) > 0 && len(o.Consumes) == 0 {
		return errors.New("template: publishing needs something to derive from: name the types the service consumes too")
	}
	var errs []error
	seen := map[string]bool{}
	list := func(types []string) []*Event {
		var out []*Event
		clear(seen)
		for _, t := range types {
			if seen[t] {
				continue
			}
			seen[t] = true
			e, err := lookup(t)
			if err != nil {
				errs = append(errs, fmt.Errorf("template: %w", err))
				continue
			}
			out = append(out, e)
		}
		return out
	}
	d.Consumes, d.Publishes = list(o.Consumes), list(o.Publishes)
	for _, e := range d.Publishes {
		if sdkOwned[e.Type] {
			errs = append(errs, fmt.Errorf("template: %s is published by the rivers SDK for every service: a service does not publish it itself", e.Type))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	for _, from := range d.Consumes {
		for _, to := range d.Publishes {
			d.Mappings = append(d.Mappings, mapping(from, to))
		}
	}
	return nil
}

// sdkOwned are the types every service publishes through the SDK.
var sdkOwned = map[string]bool{events.TypeHeartbeat: true, events.TypeServiceStarted: true, events.TypeServiceStopping: true}

type source struct{ path, rel string }

// sources lists the embedded templates to render: the skeleton's, with
// the typed skeleton's in place of those it has when typed.
func sources(typed bool) ([]source, error) {
	var out []source
	over := map[string]bool{}
	if typed {
		err := fs.WalkDir(skeleton, "typed", func(p string, e fs.DirEntry, err error) error {
			if err == nil && !e.IsDir() {
				rel := strings.TrimSuffix(strings.TrimPrefix(p, "typed/"), ".tmpl")
				out = append(out, source{p, rel})
				over[rel] = true
			}
			return err
		})
		if err != nil {
			return nil, err
		}
	}
	err := fs.WalkDir(skeleton, "skeleton", func(p string, e fs.DirEntry, err error) error {
		if err == nil && !e.IsDir() {
			rel := strings.TrimSuffix(strings.TrimPrefix(p, "skeleton/"), ".tmpl")
			if typed && strings.HasPrefix(rel, "service/") {
				return nil // the typed skeleton has its own package
			}
			if !over[rel] {
				out = append(out, source{p, rel})
			}
		}
		return err
	})
	return out, err
}

// wrap fills text into lines of at most 76 columns, each starting with
// prefix ("// " for a comment, "" for Markdown).
func wrap(prefix, text string) string {
	var lines []string
	line := ""
	for _, w := range strings.Fields(text) {
		if line != "" && len(prefix)+len(line)+1+len(w) > 76 {
			lines = append(lines, prefix+line)
			line = ""
		}
		if line != "" {
			line += " "
		}
		line += w
	}
	return strings.Join(append(lines, prefix+line), "\n")
}

// quote renders strings as a Go argument list: "a", "b".
func quote(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = strconv.Quote(s)
	}
	return strings.Join(q, ", ")
}

// Files returns the paths Render writes for name, relative to dst: those
// of the example service, or of a typed one when typed (whose mapping.go
// is written only when it publishes).
func Files(name string, typed bool) ([]string, error) {
	pkg := strings.ReplaceAll(name, "-", "")
	src, err := sources(typed)
	if err != nil {
		return nil, err
	}
	out := make([]string, len(src))
	for i, s := range src {
		out[i] = strings.Replace(s.rel, "service/", pkg+"/", 1)
	}
	slices.Sort(out)
	return out, nil
}
