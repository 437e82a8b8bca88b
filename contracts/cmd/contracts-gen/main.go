// Command contracts-gen rewrites what is generated from the schemas: the
// catalog table of README.md, the AsyncAPI document asyncapi.yaml,
// events/payloads_gen.go (the payload structs) and events/types_gen.go
// (the Type* constants, Types and NewPayload). Run it
// through go generate from the contracts module (see doc.go); tests fail
// while a checked-in file differs from what it writes.
package main

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"

	"github.com/watershed-grid/watershed/contracts/catalog"
	"github.com/watershed-grid/watershed/contracts/internal/catalogdoc"
)

func main() {
	if err := run("."); err != nil {
		fmt.Fprintln(os.Stderr, "contracts-gen:", err)
		os.Exit(1)
	}
}

// run regenerates the files of the contracts module at dir.
func run(dir string) error {
	// The schemas on disk: the ones the module embeds at its next build.
	c, err := catalog.Load(os.DirFS(filepath.Join(dir, "schemas")))
	if err != nil {
		return err
	}
	if err := writeREADME(c, filepath.Join(dir, "README.md")); err != nil {
		return err
	}
	doc, err := catalogdoc.AsyncAPI(c)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "asyncapi.yaml"), doc, 0o644); err != nil {
		return err
	}
	return writeGoTypes(c, filepath.Join(dir, "events"))
}

func writeREADME(c *catalog.Catalog, readme string) error {
	table, err := catalogdoc.Table(c)
	if err != nil {
		return err
	}
	b, err := os.ReadFile(readme)
	if err != nil {
		return err
	}
	out, err := catalogdoc.Rewrite(string(b), table)
	if err != nil {
		return fmt.Errorf("%s: %w", readme, err)
	}
	return os.WriteFile(readme, []byte(out), 0o644)
}

// writeGoTypes writes the events package at dir's generated files: the
// payload structs (payloads_gen.go) and the Type* constants, Types and
// NewPayload (types_gen.go). Nothing is written while a generated struct is
// also declared by hand there: the package would not compile, and neither
// would this command.
func writeGoTypes(c *catalog.Catalog, dir string) error {
	payloads, err := catalogdoc.Payloads(c)
	if err != nil {
		return err
	}
	names, err := catalogdoc.PayloadNames(c)
	if err != nil {
		return err
	}
	declared, err := declaredTypes(dir)
	if err != nil {
		return err
	}
	var twice []string
	for _, name := range names {
		if file, ok := declared[name]; ok {
			twice = append(twice, fmt.Sprintf("type %s (in %s)", name, file))
		}
	}
	if len(twice) > 0 {
		return fmt.Errorf("the payload structs are generated from the schemas into events/%s: delete these hand-written declarations, "+
			"then run go generate again (the schema's x-go-* annotations make the Go choices, see contracts/README.md):\n\t%s",
			catalogdoc.PayloadsFile, strings.Join(twice, "\n\t"))
	}
	src, err := catalogdoc.GoTypes(c)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, catalogdoc.PayloadsFile), payloads, 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, catalogdoc.GoTypesFile), src, 0o644)
}

// declaredTypes returns the type names declared in the package at dir,
// outside the generated files and the tests, with the file of each.
func declaredTypes(dir string) (map[string]string, error) {
	names, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		return nil, err
	}
	fset := token.NewFileSet()
	out := map[string]string{}
	for _, name := range names {
		base := filepath.Base(name)
		if base == catalogdoc.GoTypesFile || base == catalogdoc.PayloadsFile || strings.HasSuffix(base, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.SkipObjectResolution)
		if err != nil {
			return nil, err
		}
		for _, d := range f.Decls {
			if g, ok := d.(*ast.GenDecl); ok && g.Tok == token.TYPE {
				for _, s := range g.Specs {
					out[s.(*ast.TypeSpec).Name.Name] = base
				}
			}
		}
	}
	return out, nil
}
