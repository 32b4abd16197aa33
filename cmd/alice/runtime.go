package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/alice-runtime/alice"
	"github.com/alice-runtime/alice/client"
	"github.com/alice-runtime/alice/wire"
)

// The commands skills call read the server and the conversation from the
// environment a skill runs with: ALICE_RUNTIME_API_BASE_URL (default
// http://127.0.0.1:7331, or unix:///path/to.sock), ALICE_RUNTIME_API_TOKEN,
// and ALICE_RECEIVE_ID_TYPE, ALICE_RECEIVE_ID and the other ALICE_*
// variables of the conversation. They print the server's answer as
// indented JSON.

const envHelp = `Environment:
  ALICE_RUNTIME_API_BASE_URL  http://host:port or unix:///path.sock (default ` + client.DefaultBaseURL + `)
  ALICE_RUNTIME_API_TOKEN     the bot's token (alice token prints it)
  ALICE_RECEIVE_ID_TYPE       chat_id, open_id, user_id, union_id or email
  ALICE_RECEIVE_ID            the conversation's id (oc_..., ou_...)
  ALICE_CHAT_TYPE, ALICE_SOURCE_MESSAGE_ID, ALICE_ACTOR_USER_ID,
  ALICE_ACTOR_OPEN_ID, ALICE_SESSION_KEY   optional
`

func newRuntimeCmd(c cli) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "runtime",
		Short: "Call the runtime as Alice's skills do (goal, message, automation)",
		Long: `The commands Alice's skills call (their scripts run "alice runtime GROUP ...").
They act on the conversation named by the ALICE_* environment.

` + envHelp,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(newGoalCmd(c, "goal"), newMessageCmd(c, "message"), newAutomationCmd(c, "automation"), newWorkflowCmd())
	return cmd
}

// skill is a command's view of the skill that runs it.
type skill struct {
	c      cli
	ctx    context.Context
	client *client.Client
	base   string
}

// connect makes the client from the environment, naming a missing
// variable before any request.
func connect(c cli) (*skill, error) {
	base := c.getenv(wire.EnvBaseURL)
	if base == "" {
		base = client.DefaultBaseURL
	}
	token := c.getenv(wire.EnvToken)
	if token == "" {
		return nil, fmt.Errorf("%s is not set; set it to the bot's token (alice token prints it)", wire.EnvToken)
	}
	cl, err := client.New(base, token, nil)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", wire.EnvBaseURL, err)
	}
	return &skill{c: c, client: cl, base: base}, nil
}

// conversation is the conversation of the environment, checked here so
// that a mistake names the variable to fix.
func (s *skill) conversation() (alice.Conversation, error) {
	conv := wire.ConversationFromEnv(s.c.getenv)
	for _, v := range []struct{ name, value string }{{"ALICE_RECEIVE_ID_TYPE", string(conv.ReceiveIDType)}, {"ALICE_RECEIVE_ID", conv.ReceiveID}} {
		if v.value == "" {
			return conv, fmt.Errorf("%s is not set; skills get it from Alice with the conversation they run in", v.name)
		}
	}
	if err := conv.Validate(); err != nil {
		return conv, errors.New(wire.HeadersAsEnv(err.Error()))
	}
	return conv, nil
}

// explain turns a failed call into what to do about it.
func (s *skill) explain(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) && errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ENOENT) {
		return fmt.Errorf("nothing answers at %s; start the runtime with `alice serve` (or set %s to where it listens)", s.base, wire.EnvBaseURL)
	}
	if alice.ErrorCode(err) == alice.EUnauthorized {
		return fmt.Errorf("%v (check %s)", err, wire.EnvToken)
	}
	return errors.New(wire.HeadersAsEnv(err.Error()))
}

// print writes v as indented JSON.
func (s *skill) print(v any) error {
	enc := json.NewEncoder(s.c.stdout)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// printRaw writes a JSON answer body indented.
func (s *skill) printRaw(body []byte) error {
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		_, err := s.c.stdout.Write(body)
		return err
	}
	return s.print(v)
}

// none prints what a command printing "nothing" says: a 204 is a clear
// line, still JSON for scripts.
func (s *skill) none(what string) error { return s.print(map[string]string{"message": what}) }

// body is a command's JSON: its argument, else standard input when that is
// not a terminal.
func (s *skill) body(args []string) ([]byte, error) {
	if len(args) > 0 {
		return []byte(args[0]), nil
	}
	if s.c.stdinTerminal {
		return nil, usageError{errors.New("the JSON is missing: give it as an argument or on standard input")}
	}
	b, err := io.ReadAll(io.LimitReader(s.c.stdin, 1<<20+1))
	if err != nil {
		return nil, err
	}
	if strings.TrimSpace(string(b)) == "" {
		return nil, usageError{errors.New("the JSON is missing: give it as an argument or on standard input")}
	}
	return b, nil
}

// runSkill wraps a command that calls the runtime.
func runSkill(c cli, f func(s *skill, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		s, err := connect(c)
		if err != nil {
			return err
		}
		s.ctx = cmd.Context()
		if err := f(s, args); err != nil {
			var u usageError
			if errors.As(err, &u) {
				return err
			}
			return s.explain(err)
		}
		return nil
	}
}

// newWorkflowCmd answers upstream Alice's workflow commands (code_army),
// which this runtime does not have, with a clear error.
func newWorkflowCmd() *cobra.Command {
	return &cobra.Command{
		Use:                "workflow",
		Short:              "Upstream Alice's code_army workflow commands (not part of this runtime)",
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			if slices.Contains(args, "--help") || slices.Contains(args, "-h") {
				return cmd.Help()
			}
			return errors.New("workflow commands (code-army-status) belong to upstream Alice's code_army workflow, which this runtime does not have; workflows here are named in the bot's config and run as run_workflow tasks")
		},
	}
}
