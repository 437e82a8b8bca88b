package main

import (
	"fmt"
	"path/filepath"

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
runs in the ecosystem: a thin main, configuration from the environment, a
river with its handler, a README, a Dockerfile and tests on riverstest and
the embedded broker. Run it from the repository root; the module goes to
services/<name>. rivers/README.md walks through what to change next.`,
		Example: `  watershed new service usage-alerts
  cd services/usage-alerts && go mod tidy && go test ./...
  go work use ./services/usage-alerts`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dst := dir
			if dst == "" {
				dst = filepath.Join("services", args[0])
			}
			if err := template.Render(dst, args[0]); err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "created %s\n", dst)
			fmt.Fprintf(out, "next: cd %s && go mod tidy && go test ./...\n", dst)
			fmt.Fprintf(out, "      go work use ./%s   # and add \"%s v0.1.0\" to modules.txt\n", filepath.ToSlash(dst), filepath.ToSlash(dst))
			return nil
		},
	}
	service.Flags().StringVar(&dir, "dir", "", "where to write the module (default services/<name>; it is laid out for that place in the repository)")
	cmd.AddCommand(service)
	return cmd
}
