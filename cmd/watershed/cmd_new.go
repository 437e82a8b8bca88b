package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"github.com/watershed-grid/watershed/rivers/template"
)

func newNewCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "new",
		Short: "Create things from templates",
	}
	var dir string
	service := &cobra.Command{
		Use:   "service <name>",
		Short: "Create a new service module from the rivers template (main, config, handler, README, Dockerfile, tests)",
		Long: `new service writes a service module that builds, passes its tests and
runs in the ecosystem: a main that is one call of rivers.Main, configuration
from the environment, a river with its handler, a README, a Dockerfile and
tests on riverstest and the embedded broker. Run it from the repository
root: the module goes to services/<name>, and its line is added to go.work
and modules.txt. With --dir the module goes there and nothing else is
changed. rivers/README.md walks through what to change next.`,
		Example: `  watershed new service usage-alerts
  (cd services/usage-alerts && go mod tidy)
  go test ./services/usage-alerts/...`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			out := cmd.OutOrStdout()
			if dir != "" {
				if err := template.Render(dir, name); err != nil {
					return err
				}
				fmt.Fprintf(out, "created %s\nnext:\n  (cd %s && go mod tidy && go test ./...)\n", dir, dir)
				return nil
			}
			rel := "services/" + name
			for _, f := range []string{"go.work", "modules.txt"} {
				if _, err := os.Stat(f); err != nil {
					return fmt.Errorf("new service: no %s here: run it from the repository root, or pass --dir", f)
				}
			}
			if err := template.Render(filepath.FromSlash(rel), name); err != nil {
				return err
			}
			if err := addToGoWork("go.work", rel); err != nil {
				return err
			}
			if err := addToModulesTxt("modules.txt", rel, "v0.1.0"); err != nil {
				return err
			}
			fmt.Fprintf(out, "created %s; added it to go.work and modules.txt (v0.1.0)\n", rel)
			fmt.Fprintf(out, "next, from here:\n")
			fmt.Fprintf(out, "  (cd %s && go mod tidy)\n", rel)
			fmt.Fprintf(out, "  go test ./%s/...\n", rel)
			fmt.Fprintf(out, "  go run ./%s         # with 'go run ./cmd/watershed dev' running in another terminal\n", rel)
			return nil
		},
	}
	service.Flags().StringVar(&dir, "dir", "", "write the module here instead of services/<name>, and change nothing else (it is laid out for services/<name> in the repository)")
	cmd.AddCommand(service)
	return cmd
}

// addToGoWork adds ./dir to the use block of the go.work file at path,
// keeping the block sorted; a dir already there is left alone.
func addToGoWork(path, dir string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	lines := strings.Split(string(b), "\n")
	start := slices.IndexFunc(lines, func(l string) bool { return strings.TrimSpace(l) == "use (" })
	if start < 0 {
		return fmt.Errorf("%s has no use ( ... ) block: add ./%s yourself (go work use ./%s)", path, dir, dir)
	}
	end := start + 1
	for end < len(lines) && strings.TrimSpace(lines[end]) != ")" {
		end++
	}
	if end == len(lines) {
		return fmt.Errorf("%s: the use block does not end", path)
	}
	entry := "./" + dir
	uses := slices.Clone(lines[start+1 : end])
	if slices.ContainsFunc(uses, func(l string) bool { return strings.TrimSpace(l) == entry }) {
		return nil
	}
	uses = append(uses, "\t"+entry)
	slices.SortFunc(uses, func(a, b string) int { return strings.Compare(strings.TrimSpace(a), strings.TrimSpace(b)) })
	lines = slices.Concat(lines[:start+1], uses, lines[end:])
	return writeKeepingMode(path, strings.Join(lines, "\n"))
}

// addToModulesTxt adds "dir version" to the modules list at path, after
// its comments, keeping the module lines sorted; a dir already listed is
// left alone.
func addToModulesTxt(path, dir, version string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	text := strings.TrimRight(string(b), "\n")
	var head, mods []string
	for _, l := range strings.Split(text, "\n") {
		f := strings.Fields(l)
		switch {
		case len(f) > 0 && f[0] == dir:
			return nil
		case len(f) == 0 || strings.HasPrefix(f[0], "#"):
			if len(mods) == 0 {
				head = append(head, l)
				continue
			}
			mods = append(mods, l)
		default:
			mods = append(mods, l)
		}
	}
	mods = append(mods, dir+" "+version)
	slices.SortStableFunc(mods, func(a, b string) int { return strings.Compare(a, b) })
	return writeKeepingMode(path, strings.Join(slices.Concat(head, mods), "\n")+"\n")
}

func writeKeepingMode(path, content string) error {
	mode := fs.FileMode(0o644)
	if fi, err := os.Stat(path); err == nil {
		mode = fi.Mode().Perm()
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return os.WriteFile(path, []byte(content), mode)
}
