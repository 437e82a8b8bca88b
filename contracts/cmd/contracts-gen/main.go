// Command contracts-gen rewrites what the contracts documentation derives
// from the schemas: the catalog table of README.md. Run it through
// go generate from the contracts module (see doc.go); a test fails while
// the checked-in table differs.
package main

import (
	"fmt"
	"os"

	"github.com/watershed-grid/watershed/contracts/catalog"
	"github.com/watershed-grid/watershed/contracts/internal/catalogdoc"
)

func main() {
	if err := run("README.md"); err != nil {
		fmt.Fprintln(os.Stderr, "contracts-gen:", err)
		os.Exit(1)
	}
}

func run(readme string) error {
	// The schemas on disk: the ones the module embeds at its next build.
	c, err := catalog.Load(os.DirFS("schemas"))
	if err != nil {
		return err
	}
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
