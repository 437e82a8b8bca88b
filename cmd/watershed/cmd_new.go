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
	var consumes, publishes []string
	service := &cobra.Command{
		Use:   "service <name>",
		Short: "Create a new service module from the rivers template and add it to the repository (go.work, dev, compose, Helm)",
		Long: `new service writes a service module that builds, passes its tests and
runs in the ecosystem: a main that is one call of rivers.Main, configuration
from the environment, a river with its handler, a README, a Dockerfile and
tests on riverstest and the embedded broker.

With --consumes, the service reads those catalog types, each on its topic
with its Go payload from contracts/events, and with --publishes it derives
those types from what it reads through a mapping stub per pair
(mapping.go) that copies the fields both share: the stub publishes nothing
until it sets the rest, which is where the service's logic goes. Each type
must be in the catalog (contracts/schemas/<type>.json). Without them the
service is the template's example: a supply-voltage watch.

Run it from the repository root: the module goes to services/<name>, and
the service is added to go.work and modules.txt, to 'watershed dev'
(cmd/watershed/internal/ecosystem and the CLI's go.mod), to
docker-compose.yml and the collector's scrape targets, to the Helm chart,
to deploy/check's list and to scripts/build-images.sh. With --dir the
module goes there and nothing else is changed. rivers/README.md walks
through what to change next.`,
		Example: `  watershed new service usage-alerts --consumes usage.interval.v1 --publishes meter.reading.anomalous.v1
  (cd services/usage-alerts && go mod tidy)
  go test ./services/usage-alerts/...`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			out := cmd.OutOrStdout()
			o := template.Options{Name: name, Consumes: consumes, Publishes: publishes}
			if dir != "" {
				if err := template.RenderWith(dir, o); err != nil {
					return err
				}
				fmt.Fprintf(out, "created %s\nnext:\n  (cd %s && go mod tidy && go test ./...)\n", dir, dir)
				return nil
			}
			rel := "services/" + name
			var missing []string
			for _, f := range repoFiles {
				if _, err := os.Stat(filepath.FromSlash(f)); err != nil {
					missing = append(missing, f)
				}
			}
			if len(missing) > 0 {
				return fmt.Errorf("new service: no %s here: run it from the repository root, or pass --dir", strings.Join(missing, ", "))
			}
			if err := template.RenderWith(filepath.FromSlash(rel), o); err != nil {
				return err
			}
			pkg := strings.ReplaceAll(name, "-", "")
			if err := addService(name, pkg, serviceSummary(consumes, publishes)); err != nil {
				return err
			}
			fmt.Fprintf(out, "created %s; added it to go.work, modules.txt (v0.1.0), watershed dev, %s, %s, the Helm chart, %s and %s\n",
				rel, composeFile, collectorFile, deployCheck, buildImages)
			fmt.Fprintf(out, "next, from here:\n")
			fmt.Fprintf(out, "  (cd %s && go mod tidy)\n", rel)
			fmt.Fprintf(out, "  go test ./%s/...\n", rel)
			fmt.Fprintf(out, "  go run ./cmd/watershed dev              # runs %s with the other services; then, in another terminal:\n", name)
			fmt.Fprintf(out, "  go run ./cmd/watershed services         # its heartbeat\n")
			if len(publishes) > 0 {
				fmt.Fprintf(out, "  go run ./cmd/watershed tap rivers       # what it publishes\n")
				fmt.Fprintf(out, "then write its logic in %s/%s/mapping.go (and its tests beside it).\n", rel, pkg)
			} else {
				fmt.Fprintf(out, "then write its logic in %s/%s/service.go (and its tests beside it).\n", rel, pkg)
			}
			return nil
		},
	}
	service.Flags().StringVar(&dir, "dir", "", "write the module here instead of services/<name>, and change nothing else (it is laid out for services/<name> in the repository)")
	service.Flags().StringSliceVar(&consumes, "consumes", nil, "event types the service reads, one river each (repeat, or separate with commas)")
	service.Flags().StringSliceVar(&publishes, "publishes", nil, "event types it publishes, derived from what it reads (repeat, or separate with commas; needs --consumes)")
	cmd.AddCommand(service)
	return cmd
}

// serviceSummary describes a new service in one line for the deployment
// files: "reads usage.interval.v1; publishes usage.alert.v1".
func serviceSummary(consumes, publishes []string) string {
	if len(consumes) == 0 {
		return "meter readings: supply voltage out of band (the rivers template)"
	}
	s := "reads " + strings.Join(consumes, ", ")
	if len(publishes) > 0 {
		s += "; publishes " + strings.Join(publishes, ", ")
	}
	return s
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
