// Package llm holds the backends run_llm tasks and workflow steps use: a
// local command (prompt on stdin, reply on stdout), such as an agent CLI.
package llm

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
)

// Backend answers a prompt.
type Backend interface {
	Complete(ctx context.Context, prompt string) (string, error)
}

// maxReplyBytes bounds what is read from a backend.
const maxReplyBytes = 1 << 20

// Command runs Argv with the prompt on stdin and takes stdout as the reply.
// The caller's context bounds it (the bot's llm.timeout).
type Command struct {
	Argv []string
}

// Complete implements Backend.
func (c Command) Complete(ctx context.Context, prompt string) (string, error) {
	cmd := exec.CommandContext(ctx, c.Argv[0], c.Argv[1:]...)
	cmd.Stdin = strings.NewReader(prompt)
	var stdout, stderr limitedBuffer
	stdout.max, stderr.max = maxReplyBytes, 4<<10
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		return "", fmt.Errorf("llm command %s: %w", c.Argv[0], ctx.Err())
	}
	if err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg != "" {
			return "", fmt.Errorf("llm command %s: %v: %s", c.Argv[0], err, msg)
		}
		return "", fmt.Errorf("llm command %s: %w", c.Argv[0], err)
	}
	if stdout.truncated {
		return "", fmt.Errorf("llm command %s: reply is longer than %d bytes", c.Argv[0], maxReplyBytes)
	}
	reply := strings.TrimSpace(stdout.String())
	if reply == "" {
		return "", errors.New("llm command " + c.Argv[0] + " replied with nothing")
	}
	return reply, nil
}

// limitedBuffer keeps the first max bytes written to it and discards the
// rest, so a runaway command cannot fill memory. The buffer is a named
// field, not embedded: an embedded bytes.Buffer would promote ReadFrom, and
// io.Copy would use it and bypass the limit.
type limitedBuffer struct {
	buf       bytes.Buffer
	max       int
	truncated bool
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if room := b.max - b.buf.Len(); room < len(p) {
		b.truncated = true
		if room > 0 {
			b.buf.Write(p[:room])
		}
		return len(p), nil
	}
	return b.buf.Write(p)
}

func (b *limitedBuffer) String() string { return b.buf.String() }

var _ io.Writer = (*limitedBuffer)(nil)
