// Command contracts-gen rewrites what is generated from the schemas: the
// catalog table of README.md, the AsyncAPI document asyncapi.yaml, and
// events/types_gen.go (the Type* constants, Types and NewPayload). Run it
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

// writeGoTypes writes types_gen.go into the events package at dir once
// every type has its payload struct there: a NewPayload naming a missing
// struct would not compile, and neither would this command.
func writeGoTypes(c *catalog.Catalog, dir string) error {
	declared, err := declaredTypes(dir)
	if err != nil {
		return err
	}
	var missing []string
	for _, typ := range c.Types() {
		name, err := catalogdoc.GoType(c, typ)
		if err != nil {
			return err
		}
		if !declared[name] {
			missing = append(missing, fmt.Sprintf("type %s struct (the payload of %s)", name, typ))
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("write the payload structs in events/events.go, then run go generate again "+
			"(TestGoTypesAgreeWithSchemas checks their fields against the schema; x-go-name in a schema names its struct):\n\t%s",
			strings.Join(missing, "\n\t"))
	}
	src, err := catalogdoc.GoTypes(c)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, catalogdoc.GoTypesFile), src, 0o644)
}

// declaredTypes returns the type names declared in the package at dir,
// outside the generated file and the tests.
func declaredTypes(dir string) (map[string]bool, error) {
	names, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		return nil, err
	}
	fset := token.NewFileSet()
	out := map[string]bool{}
	for _, name := range names {
		base := filepath.Base(name)
		if base == catalogdoc.GoTypesFile || strings.HasSuffix(base, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.SkipObjectResolution)
		if err != nil {
			return nil, err
		}
		for _, d := range f.Decls {
			if g, ok := d.(*ast.GenDecl); ok && g.Tok == token.TYPE {
				for _, s := range g.Specs {
					out[s.(*ast.TypeSpec).Name.Name] = true
				}
			}
		}
	}
	return out, nil
}
