package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"runtime/pprof"
	"syscall"

	"github.com/dustin/go-humanize"
	"github.com/spf13/cobra"

	"github.com/alice-runtime/alice/config"
	"github.com/alice-runtime/alice/persistence/badgerstore"
	"github.com/alice-runtime/alice/server"
)

// serveOptions are the flags of alice and alice serve.
type serveOptions struct {
	configPath, logLevel, cpuProfile, traceSlowCommits string
}

func (o *serveOptions) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&o.configPath, "config", "", "YAML configuration `file` (default: one bot, no file needed)")
	cmd.Flags().StringVar(&o.logLevel, "log-level", "info", "log `level`: debug, info, warn or error")
	cmd.Flags().StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile to `file` until the server stops (for benchmarks)")
	cmd.Flags().MarkHidden("cpuprofile")
	cmd.Flags().StringVar(&o.traceSlowCommits, "trace-slow-commits", "", "write the last seconds of an execution trace to `prefix`.PID.N when a store commit takes over 250 ms, at most 4 times (for benchmarks)")
	cmd.Flags().MarkHidden("trace-slow-commits")
}

func newServeCmd(c cli) *cobra.Command {
	var opts serveOptions
	cmd := &cobra.Command{
		Use:   "serve [--config FILE] [--log-level LEVEL]",
		Short: "Serve every configured bot until SIGINT or SIGTERM",
		Long: `Serves every configured bot until SIGINT or SIGTERM. On the first signal it
stops accepting, finishes what is in flight (at most shutdown_timeout,
default 10s) and exits 0; a second signal exits at once.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return serve(cmd, c, opts) },
	}
	opts.register(cmd)
	return cmd
}

func serve(cmd *cobra.Command, c cli, opts serveOptions) error {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(opts.logLevel)); err != nil {
		return usageError{fmt.Errorf("--log-level: %q is not debug, info, warn or error", opts.logLevel)}
	}
	logger := slog.New(slog.NewTextHandler(c.stderr, &slog.HandlerOptions{Level: lvl}))
	if opts.cpuProfile != "" {
		f, err := os.Create(opts.cpuProfile)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	cfg, err := loadConfig(opts.configPath)
	if err != nil {
		return err
	}
	applyMemoryLimit(cfg.MemoryLimit, os.Getenv, debug.SetMemoryLimit, logger)
	// Agents call the runtime back with this very executable.
	self, err := os.Executable()
	if err != nil {
		logger.Warn("agents will not be told where alice is (ALICE_RUNTIME_BIN)", "err", err)
	}
	srvOpts := server.Options{Logger: logger, Executable: self}
	if opts.traceSlowCommits != "" {
		t, err := startSlowCommitTracer(opts.traceSlowCommits, logger)
		if err != nil {
			return err
		}
		defer t.stop()
		srvOpts.OnCommit = t.committed
	}
	srv, err := server.New(cfg, srvOpts)
	if err != nil {
		return err
	}
	for _, b := range srv.Bots() {
		where := b.URL()
		if b.Addr != "" && b.Socket != "" {
			where += " and unix://" + b.Socket
		}
		fmt.Fprintf(c.stdout, "alice: bot %s serving on %s\n", b.ID, where)
	}
	tokenCmd := "alice token"
	if opts.configPath != "" {
		tokenCmd += " --config " + opts.configPath
	}
	dataDir, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		dataDir = cfg.DataDir
	}
	fmt.Fprintf(c.stdout, "alice: data in %s; print a bot's token with: %s [--bot ID]\n", dataDir, tokenCmd)

	signals := make(chan os.Signal, 2)
	signal.Notify(signals, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(signals)
	served := make(chan error, 1)
	go func() { served <- srv.Serve() }()
	select {
	case err = <-served:
	case <-signals:
		logger.Info("shutting down; a second signal exits at once")
	}
	ctx, cancel := context.WithTimeout(cmd.Context(), cfg.ShutdownTimeout)
	defer cancel()
	stopped := make(chan error, 1)
	go func() { stopped <- srv.Shutdown(ctx) }()
	select {
	case serr := <-stopped:
		err = errors.Join(err, serr)
	case <-signals:
		return errors.New("stopped by a second signal before the shutdown finished")
	}
	if err != nil {
		return err
	}
	logger.Info("stopped")
	return nil
}

// applyMemoryLimit gives the garbage collector the configured soft limit,
// which keeps a large store's server inside its memory budget by collecting
// more often as it nears it. GOMEMLIMIT, when set, is the operator's
// override and wins.
func applyMemoryLimit(limit uint64, getenv func(string) string, set func(int64) int64, log *slog.Logger) {
	if env := getenv("GOMEMLIMIT"); env != "" {
		log.Info("memory limit from GOMEMLIMIT", "limit", env)
		return
	}
	if limit == 0 {
		return
	}
	set(int64(min(limit, math.MaxInt64)))
	log.Info("memory limit", "limit", humanize.IBytes(limit))
}

func newCheckCmd(c cli) *cobra.Command {
	var dataDir, configPath string
	cmd := &cobra.Command{
		Use:   "check (--data-dir DIR | --config FILE)",
		Short: "Check that a stopped runtime's store is consistent",
		Long: `Checks, with the server stopped, that every index entry of the store has its
record and every record its index entries, that headers count what they
hold, and that the bots' counters agree with their tasks. Prints what it
found; exits 1 naming every problem.`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			if dataDir == "" {
				cfg, err := loadConfig(configPath)
				if err != nil {
					return err
				}
				dataDir = cfg.DataDir
			}
			storeDir := (&config.Config{DataDir: dataDir}).StoreDir()
			if _, err := os.Stat(filepath.Join(storeDir, "MANIFEST")); err != nil {
				return fmt.Errorf("%s holds no store (no %s)", dataDir, filepath.Join(storeDir, "MANIFEST"))
			}
			r, err := badgerstore.Check(storeDir, slog.New(slog.NewTextHandler(c.stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
			if err != nil {
				return err
			}
			fmt.Fprintf(c.stdout, "checked %s: %d conversations, %d tasks, %d runs, %d messages, %d due entries\n",
				storeDir, r.Conversations, r.Tasks, r.Runs, r.Messages, r.DueEntries)
			for _, p := range r.Problems {
				fmt.Fprintln(c.stdout, "problem:", p)
			}
			if r.Truncated {
				fmt.Fprintln(c.stdout, "problem: (more problems than are listed)")
			}
			if len(r.Problems) > 0 {
				return fmt.Errorf("the store in %s is inconsistent: %d problems", storeDir, len(r.Problems))
			}
			fmt.Fprintln(c.stdout, "ok")
			return nil
		},
	}
	cmd.Flags().StringVar(&dataDir, "data-dir", "", "the data `dir` of the runtime (holding store/)")
	cmd.Flags().StringVar(&configPath, "config", "", "read the data dir from this configuration `file`")
	cmd.MarkFlagsMutuallyExclusive("data-dir", "config")
	return cmd
}
