//go:build unix

package supervisor

import (
	"os/exec"
	"syscall"
)

var (
	terminateSignal = syscall.SIGTERM
	killSignal      = syscall.SIGKILL
)

// setProcessGroup puts the program in its own process group, so a stop
// reaches the children too (`go run` starts the real binary as a child).
func setProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}

func signalGroup(cmd *exec.Cmd, sig syscall.Signal) error {
	if cmd.Process == nil {
		return nil
	}
	if err := syscall.Kill(-cmd.Process.Pid, sig); err != nil {
		return cmd.Process.Signal(sig)
	}
	return nil
}
