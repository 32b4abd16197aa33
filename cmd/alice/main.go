// Command alice runs the Alice Runtime, the local HTTP API of chat-bot
// skills, and is the command line skills use to call it.
//
//	alice                            serve the default bot (no config needed)
//	alice serve [--config FILE]      serve every configured bot
//	alice token | version | check    administration
//	alice runtime goal|message|automation ...   what Alice's skills call
//	alice goal | task | send | messages ...     the same, shorter
//
// "alice --help" lists everything; every command takes --help.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	_ "time/tzdata" // zones work on machines without a zoneinfo database

	"github.com/spf13/cobra"

	"github.com/alice-runtime/alice/config"
)

// version is set at build time with -ldflags "-X main.version=..."; without
// it the module version from the build info is used.
var version = ""

func main() {
	stat, err := os.Stdin.Stat()
	terminal := err == nil && stat.Mode()&os.ModeCharDevice != 0
	os.Exit(run(os.Args[1:], cli{stdin: os.Stdin, stdinTerminal: terminal, stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv}))
}

// cli is what a command reads and writes outside itself, passed in so that
// tests run commands in-process with their own streams and environment.
type cli struct {
	stdin          io.Reader
	stdinTerminal  bool
	stdout, stderr io.Writer
	getenv         func(string) string
}

// usageError marks an error in how a command was called (exit code 2).
type usageError struct{ error }

// run is main without the process: it returns the exit code, 0 on success,
// 1 when the command failed and 2 when it was called wrongly.
func run(args []string, c cli) int {
	root := newRoot(c)
	root.SetArgs(args)
	root.SetIn(c.stdin)
	root.SetOut(c.stdout)
	root.SetErr(c.stderr)
	cmd, err := root.ExecuteC()
	if err == nil {
		return 0
	}
	fmt.Fprintln(c.stderr, "alice:", err)
	var usage usageError
	if errors.As(err, &usage) || isCobraUsage(err) {
		fmt.Fprintf(c.stderr, "Run '%s --help' for usage.\n", cmd.CommandPath())
		return 2
	}
	return 1
}

// isCobraUsage tells cobra's own argument and flag errors apart from the
// errors of a command that ran.
func isCobraUsage(err error) bool {
	msg := err.Error()
	for _, prefix := range []string{"unknown command", "unknown flag", "unknown shorthand", "flag needs an argument", "invalid argument", "accepts ", "requires ", "bad flag"} {
		if strings.HasPrefix(msg, prefix) {
			return true
		}
	}
	return false
}

func newRoot(c cli) *cobra.Command {
	var opts serveOptions
	root := &cobra.Command{
		Use:   "alice",
		Short: "The Alice Runtime: the local HTTP API of chat-bot skills",
		Long: `alice runs the Alice Runtime, a local, authenticated HTTP API that chat-bot
skills use to act on the conversation they run in: send images and files,
schedule automation tasks, and drive the conversation's goal.

Without a command, alice serves: one bot named "default" on 127.0.0.1:7331
with its data in ./alice-data (or $ALICE_HOME/runtime), no config needed.`,
		Args:          cobra.NoArgs,
		SilenceErrors: true,
		SilenceUsage:  true,
		RunE:          func(cmd *cobra.Command, _ []string) error { return serve(cmd, c, opts) },
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	opts.register(root)
	root.AddGroup(&cobra.Group{ID: "server", Title: "Running the runtime:"}, &cobra.Group{ID: "skills", Title: "Calling it, as skills do:"})
	for _, cmd := range []*cobra.Command{newServeCmd(c), newTokenCmd(c), newVersionCmd(c), newCheckCmd(c), newDoctorCmd(c)} {
		cmd.GroupID = "server"
		root.AddCommand(cmd)
	}
	for _, cmd := range []*cobra.Command{newRuntimeCmd(c), newGoalCmd(c, "goal"), newAutomationCmd(c, "task"), newMessageCmd(c, "send"), newMessagesCmd(c)} {
		cmd.GroupID = "skills"
		root.AddCommand(cmd)
	}
	return root
}

func newVersionCmd(c cli) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version of this alice",
		Args:  cobra.NoArgs,
		Run:   func(*cobra.Command, []string) { fmt.Fprintln(c.stdout, "alice", buildVersion()) },
	}
}

func newTokenCmd(c cli) *cobra.Command {
	var configPath, botID string
	cmd := &cobra.Command{
		Use:   "token [--config FILE] [--bot ID]",
		Short: "Print a bot's API token",
		Long: `Prints a bot's API token: the configured one, or the one generated in
the data directory (generating it if the bot has never run).`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			cfg, err := loadConfig(configPath)
			if err != nil {
				return err
			}
			b := cfg.Bots[0]
			if botID != "" {
				var ok bool
				if b, ok = cfg.Bot(botID); !ok {
					return fmt.Errorf("no bot %q in the configuration", botID)
				}
			}
			tok := b.Token
			if tok == "" {
				var err error
				if tok, err = cfg.GeneratedToken(b); err != nil {
					return err
				}
			}
			if tok == "" {
				var err error
				if tok, err = cfg.Token(b); err != nil {
					return err
				}
				// The default data dir is relative to the working
				// directory: a token generated here by mistake would not
				// be the running server's, so say where it went.
				where, _ := filepath.Abs(cfg.BotDir(b.ID))
				fmt.Fprintf(c.stderr, "alice: bot %s had no token yet; generated one in %s (the server with this data dir will use it)\n", b.ID, where)
			}
			fmt.Fprintln(c.stdout, tok)
			return nil
		},
	}
	cmd.Flags().StringVar(&configPath, "config", "", "YAML configuration `file` (default: the built-in one)")
	cmd.Flags().StringVar(&botID, "bot", "", "bot `id` (default: the first bot in id order)")
	return cmd
}

func loadConfig(path string) (*config.Config, error) {
	if path == "" {
		return config.Default(), nil
	}
	return config.Load(path)
}

func buildVersion() string {
	if version != "" {
		return version
	}
	if info, ok := debug.ReadBuildInfo(); ok && info.Main.Version != "" {
		return info.Main.Version
	}
	return "(devel)"
}
