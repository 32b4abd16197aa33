// Package serveproc starts an `alice serve` process and reads where it
// serves, for the tools and tests that run the real binary.
package serveproc

import (
	"bufio"
	"fmt"
	"io"
	"os/exec"
	"regexp"
)

// Start starts cmd, an alice serve, and returns the base URL its first
// line names (http://host:port, or unix:///path). The rest of its standard
// output is discarded. When it fails, the process has been killed and
// reaped.
func Start(cmd *exec.Cmd) (string, error) {
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return "", err
	}
	if err := cmd.Start(); err != nil {
		return "", err
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	m := regexp.MustCompile(`serving on ((?:http|unix)://\S+)`).FindStringSubmatch(line)
	if err != nil || m == nil {
		cmd.Process.Kill()
		cmd.Wait()
		return "", fmt.Errorf("%s did not say where it serves: first line %q, %v", cmd.Path, line, err)
	}
	go io.Copy(io.Discard, stdout)
	return m[1], nil
}
