package llm

import "syscall"

// procAttr puts the agent in a process group of its own, which it stops
// as a whole, and asks the kernel to kill the agent if the runtime dies
// first (kill -9 leaves no goroutine to do it).
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
