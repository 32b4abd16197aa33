// Command alice runs the Alice Runtime: a local, authenticated HTTP API
// that chat-bot skills use to act on the conversation they run in.
//
//	alice                          serve the default bot (no config needed)
//	alice serve [--config FILE]    serve every configured bot
//	alice token [--config FILE] [--bot ID]
//	alice version
//	alice goal | task | send | messages   client commands for skills
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
	"time"
	_ "time/tzdata" // zones work on machines without a zoneinfo database

	"github.com/alice-runtime/alice/config"
	"github.com/alice-runtime/alice/server"
)

// version is set at build time with -ldflags "-X main.version=..."; without
// it the module version from the build info is used.
var version = ""

const usage = `alice runs the Alice Runtime, the local HTTP API of chat-bot skills.

Usage:
  alice [serve] [--config FILE] [--log-level LEVEL]
  alice token [--config FILE] [--bot ID]
  alice version

Without --config, alice serves one bot named "default" on 127.0.0.1:7331
with its data in $ALICE_HOME or ./alice-data. Run "alice COMMAND --help"
for a command's flags.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is main without the process: it returns the exit code.
func run(args []string, stdout, stderr io.Writer) int {
	cmd := "serve"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		return serve(args, stdout, stderr)
	case "token":
		return token(args, stdout, stderr)
	case "version":
		if len(args) > 0 {
			fmt.Fprint(stdout, "Usage: alice version\n\nPrints the version of this alice.\n")
			return 0
		}
		fmt.Fprintln(stdout, "alice", buildVersion())
		return 0
	case "help":
		fmt.Fprint(stdout, usage+clientUsage)
		return 0
	case "goal":
		return goalCmd(args, stdout, stderr)
	case "task":
		return taskCmd(args, stdout, stderr)
	case "send":
		return sendCmd(args, stdout, stderr)
	case "messages":
		return messagesCmd(args, stdout, stderr)
	default:
		fmt.Fprintf(stderr, "alice: unknown command %q\n\n%s%s", cmd, usage, clientUsage)
		return 2
	}
}

func serve(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("alice serve", "Usage: alice serve [--config FILE] [--log-level LEVEL]\n\nServes every configured bot until SIGINT or SIGTERM.\n", stderr)
	configPath := fs.String("config", "", "YAML configuration `file` (default: one bot, no file needed)")
	level := fs.String("log-level", "info", "log `level`: debug, info, warn or error")
	if code, done := parseFlags(fs, args); done {
		return code
	}
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(*level)); err != nil {
		fmt.Fprintf(stderr, "alice: --log-level: %q is not debug, info, warn or error\n", *level)
		return 2
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: lvl}))

	cfg, err := loadConfig(*configPath)
	if err != nil {
		fmt.Fprintln(stderr, "alice:", err)
		return 1
	}
	srv, err := server.New(cfg, server.Options{Logger: logger})
	if err != nil {
		fmt.Fprintln(stderr, "alice:", err)
		return 1
	}
	for _, b := range srv.Bots() {
		fmt.Fprintf(stdout, "alice: bot %s serving on http://%s\n", b.ID, b.Addr)
	}
	tokenCmd := "alice token"
	if *configPath != "" {
		tokenCmd += " --config " + *configPath
	}
	fmt.Fprintf(stdout, "alice: data in %s; print a bot's token with: %s [--bot ID]\n", cfg.DataDir, tokenCmd)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	served := make(chan error, 1)
	go func() { served <- srv.Serve() }()
	select {
	case err = <-served:
	case <-ctx.Done():
		logger.Info("shutting down")
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if serr := srv.Shutdown(shutdownCtx); serr != nil {
		err = errors.Join(err, serr)
	}
	if err != nil {
		fmt.Fprintln(stderr, "alice:", err)
		return 1
	}
	logger.Info("stopped")
	return 0
}

func token(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("alice token", "Usage: alice token [--config FILE] [--bot ID]\n\nPrints a bot's API token: the configured one, or the one generated in\nthe data directory (generating it if the bot has never run).\n", stderr)
	configPath := fs.String("config", "", "YAML configuration `file`")
	botID := fs.String("bot", "", "bot `id` (default: the first bot in id order)")
	if code, done := parseFlags(fs, args); done {
		return code
	}
	cfg, err := loadConfig(*configPath)
	if err != nil {
		fmt.Fprintln(stderr, "alice:", err)
		return 1
	}
	b := cfg.Bots[0]
	if *botID != "" {
		var ok bool
		if b, ok = cfg.Bot(*botID); !ok {
			fmt.Fprintf(stderr, "alice: no bot %q in the configuration\n", *botID)
			return 1
		}
	}
	tok, err := cfg.Token(b)
	if err != nil {
		fmt.Fprintln(stderr, "alice:", err)
		return 1
	}
	fmt.Fprintln(stdout, tok)
	return 0
}

// newFlags is a command's flag set: errors and --help go to stderr, and the
// help is usage followed by the flags.
func newFlags(name, usage string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usage+"\n")
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args; done reports that the command should exit now
// with code (after --help, or on a bad flag).
func parseFlags(fs *flag.FlagSet, args []string) (code int, done bool) {
	err := fs.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		return 0, true
	case err != nil:
		return 2, true
	case fs.NArg() > 0:
		fmt.Fprintf(fs.Output(), "%s: unexpected argument %q\n", fs.Name(), fs.Arg(0))
		return 2, true
	}
	return 0, false
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
