package template

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"text/template"
)

//go:embed all:skeleton
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
}

// Data is what the skeleton's templates see.
type Data struct {
	Name    string // gap-detector
	Package string // gapdetector
	Module  string // github.com/watershed-grid/watershed/services/gap-detector
	Root    string // ../..
	Title   string // Gap detector
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
	if entries, err := os.ReadDir(dst); err == nil && len(entries) > 0 {
		return fmt.Errorf("template: %s exists and is not empty", dst)
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("template: %w", err)
	}
	return fs.WalkDir(skeleton, "skeleton", func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		rel := strings.TrimPrefix(p, "skeleton/")
		rel = strings.TrimSuffix(rel, ".tmpl")
		rel = strings.ReplaceAll(rel, "service/", d.Package+"/")
		src, err := skeleton.ReadFile(p)
		if err != nil {
			return err
		}
		t, err := template.New(rel).Delims("[[", "]]").Option("missingkey=error").Parse(string(src))
		if err != nil {
			return fmt.Errorf("template: %s: %w", p, err)
		}
		var out bytes.Buffer
		if err := t.Execute(&out, d); err != nil {
			return fmt.Errorf("template: %s: %w", p, err)
		}
		target := filepath.Join(dst, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			return fmt.Errorf("template: %w", err)
		}
		return os.WriteFile(target, out.Bytes(), 0o644)
	})
}

// Files returns the paths Render writes for name, relative to dst.
func Files(name string) ([]string, error) {
	pkg := strings.ReplaceAll(name, "-", "")
	var out []string
	err := fs.WalkDir(skeleton, "skeleton", func(p string, e fs.DirEntry, err error) error {
		if err == nil && !e.IsDir() {
			rel := strings.TrimSuffix(strings.TrimPrefix(p, "skeleton/"), ".tmpl")
			out = append(out, strings.Replace(rel, "service/", pkg+"/", 1))
		}
		return err
	})
	return out, err
}
