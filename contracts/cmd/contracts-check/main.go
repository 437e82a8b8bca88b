// Command contracts-check checks Watershed's event contracts: schema
// compatibility, payloads against the catalog, and the catalog's revision
// history. CI runs it; so can anyone integrating with Watershed.
//
//	contracts-check compat <old.json>... <new.json>
//	contracts-check validate [-schemas dir] <type> <file.json>...
//	contracts-check history [dir]
//	contracts-check types [-schemas dir]
//
// Exit status: 0 when every check passes, 1 when one fails (the message says
// which property and rule), 2 on a usage error.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/watershed-grid/watershed/contracts"
	"github.com/watershed-grid/watershed/contracts/catalog"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

const usage = `usage: contracts-check <command> [arguments]

commands:
  compat <old.json>... <new.json>
        check that new.json is BACKWARD_TRANSITIVE compatible with every old.json
        (a consumer using new.json accepts all data written under the old ones)
  validate [-schemas dir] <type> <file.json>...
        validate event payloads ("-" reads stdin) against the type's schema
  history [dir]
        check a schemas folder (default: the catalog built into this binary):
        every <type>.json recorded as the latest history/<type>/<n>.json, and
        every revision compatible with all earlier ones
  types [-schemas dir]
        list the catalog's event types with their channel and key

-schemas dir loads the catalog from a folder (contracts/schemas) instead of
the one built into this binary.
`

// errUsage marks a command-line mistake (exit status 2).
var errUsage = errors.New("usage")

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stderr, usage)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	var err error
	switch args[0] {
	case "compat":
		err = compat(args[1:], stdout)
	case "validate":
		err = validate(args[1:], stdin, stdout, stderr)
	case "history":
		err = history(args[1:], stdout)
	case "types":
		err = types(args[1:], stdout, stderr)
	default:
		err = fmt.Errorf("%w: unknown command %q", errUsage, args[0])
	}
	switch {
	case err == nil:
		return 0
	case errors.Is(err, errUsage):
		fmt.Fprintf(stderr, "contracts-check: %v\n\n%s", err, usage)
		return 2
	default:
		fmt.Fprintf(stderr, "contracts-check: %v\n", err)
		return 1
	}
}

func compat(args []string, stdout io.Writer) error {
	if len(args) < 2 {
		return fmt.Errorf("%w: compat needs at least one old and one new schema file", errUsage)
	}
	docs := make([]catalog.SchemaDoc, len(args))
	for i, name := range args {
		b, err := os.ReadFile(name)
		if err != nil {
			return err
		}
		docs[i] = catalog.SchemaDoc{Name: name, JSON: b}
	}
	newer := docs[len(docs)-1]
	if err := catalog.CheckCompatibility(docs[:len(docs)-1], newer); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s is BACKWARD_TRANSITIVE compatible with %d earlier schema(s)\n", newer.Name, len(docs)-1)
	return nil
}

// loadCatalog parses -schemas and returns the catalog and the remaining arguments.
func loadCatalog(name string, args []string, stderr io.Writer) (*catalog.Catalog, []string, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("schemas", "", "load the catalog from this folder instead of the built-in one")
	if err := fs.Parse(args); err != nil {
		return nil, nil, fmt.Errorf("%w: %v", errUsage, err)
	}
	if *dir == "" {
		return catalog.Default(), fs.Args(), nil
	}
	c, err := catalog.Load(os.DirFS(*dir))
	if err != nil {
		return nil, nil, fmt.Errorf("-schemas %s: %w", *dir, err)
	}
	return c, fs.Args(), nil
}

func validate(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	c, args, err := loadCatalog("validate", args, stderr)
	if err != nil {
		return err
	}
	if len(args) < 2 {
		return fmt.Errorf("%w: validate needs an event type and at least one file", errUsage)
	}
	typ, files := args[0], args[1:]
	if !c.Has(typ) {
		return fmt.Errorf("%q is not in the catalog (contracts-check types lists them): %w", typ, catalog.ErrUnknownType)
	}
	var errs []error
	for _, f := range files {
		var data []byte
		if f == "-" {
			data, err = io.ReadAll(stdin)
		} else {
			data, err = os.ReadFile(f)
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if err := c.Validate(typ, data); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", f, err))
			continue
		}
		fmt.Fprintf(stdout, "%s: valid %s\n", f, typ)
	}
	return errors.Join(errs...)
}

func history(args []string, stdout io.Writer) error {
	switch len(args) {
	case 0:
		if err := catalog.CheckHistory(contracts.SchemaFS()); err != nil {
			return err
		}
		fmt.Fprintln(stdout, "built-in catalog: every schema recorded and compatible with its history")
		return nil
	case 1:
		dir := filepath.Clean(args[0])
		if err := catalog.CheckHistory(os.DirFS(dir)); err != nil {
			return fmt.Errorf("%s: %w", dir, err)
		}
		if _, err := catalog.Load(os.DirFS(dir)); err != nil {
			return fmt.Errorf("%s: %w", dir, err)
		}
		fmt.Fprintf(stdout, "%s: every schema compiles, is recorded and compatible with its history\n", dir)
		return nil
	}
	return fmt.Errorf("%w: history takes at most one folder", errUsage)
}

func types(args []string, stdout, stderr io.Writer) error {
	c, args, err := loadCatalog("types", args, stderr)
	if err != nil {
		return err
	}
	if len(args) > 0 {
		return fmt.Errorf("%w: types takes no arguments", errUsage)
	}
	for _, t := range c.Types() {
		info, err := c.Info(t)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%-30s %-7s key=%-15s %s\n", t, info.Channel, info.Key, info.Title)
	}
	return nil
}
