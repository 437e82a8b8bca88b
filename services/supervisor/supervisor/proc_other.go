//go:build !unix

package supervisor

import (
	"os"
	"os/exec"
)

var (
	terminateSignal = os.Interrupt
	killSignal      = os.Kill
)

func setProcessGroup(*exec.Cmd) {}

func signalGroup(cmd *exec.Cmd, sig os.Signal) error {
	if cmd.Process == nil {
		return nil
	}
	return cmd.Process.Signal(sig)
}
