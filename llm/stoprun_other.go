//go:build unix && !linux

package llm

// stopRun does nothing where processes' environments cannot be listed:
// there, only the agent's process group is stopped.
func stopRun(string) {}
