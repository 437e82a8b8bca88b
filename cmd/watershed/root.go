package main

import (
	"fmt"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// newRootCmd builds the command tree. To add a command, write its
// cmd_<name>.go with a newXxxCmd() constructor and add it to the list below.
func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "watershed",
		Short: "Run and inspect a Watershed smart-grid event ecosystem",
		Long: `watershed runs and inspects a Watershed ecosystem: services that talk
through two Kafka topics, the rapids (raw signals) and the rivers (business
events), in CloudEvents binary mode.

Kafka settings come from the KAFKA_* environment variables (see the rapids
package README); flags override them.`,
		Version:       version(),
		SilenceUsage:  true, // a failed command prints its error, not its usage
		SilenceErrors: true, // main prints the error once
	}
	root.AddCommand(
		newDevCmd(),
		newBrokerCmd(),
		newTapCmd(),
		newServicesCmd(),
		newCompareCmd(),
		newDLQCmd(),
		newPondsCmd(),
		newNewCmd(),
		newPublishCmd(),
		newAlertsCmd(),
	)
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return fmt.Errorf("%w (see %s --help)", err, cmd.CommandPath())
	})
	return root
}

// version is the module version the binary was built from ("(devel)" for a
// build from a working tree), with its VCS revision when recorded.
func version() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := info.Main.Version
	if v == "" {
		v = "(devel)"
	}
	var rev, modified string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				modified = "+dirty"
			}
		}
	}
	if rev != "" {
		v += " " + rev[:min(12, len(rev))] + modified
	}
	return v
}
