//go:build unix && !linux

package llm

import "syscall"

// procAttr puts the agent in a process group of its own, which it stops
// as a whole.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
