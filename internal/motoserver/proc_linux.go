package motoserver

import "syscall"

// setParentDeathSignal has the kernel kill moto when the test binary dies
// without running its cleanups (a panic, a timeout, a SIGKILL).
func setParentDeathSignal(attr *syscall.SysProcAttr) {
	attr.Pdeathsig = syscall.SIGKILL
}
