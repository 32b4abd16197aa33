package main

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/alice-runtime/alice/internal/chaos"
)

// scenarioChaos kills the server with SIGKILL -kills times while writers
// drive goals, tasks and sends, and checks that nothing acknowledged was
// lost or doubled (see package chaos).
func scenarioChaos(o options) error {
	if o.bin == "" {
		return fmt.Errorf("chaos runs its own server: give -bin, not -url")
	}
	dir := filepath.Join(o.work, "chaos")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	r, err := chaos.Run(bg, chaos.Config{Bin: o.bin, Dir: dir, Kills: o.kills, Log: os.Stderr})
	if err != nil {
		return err
	}
	printTable(fmt.Sprintf("Chaos: SIGKILL and restart %d times while %d writers write", r.Kills, 8), []string{"measure", "result"}, [][]string{
		{"kills, each followed by `alice check` of the stopped store", fmt.Sprintf("%d, %d checks passed", r.Kills, r.Checks)},
		{"writes acknowledged (each present exactly once at the end)", fmt.Sprint(r.Acknowledged)},
		{"writes whose answer a kill took, sent again with their key", fmt.Sprint(r.Retried)},
		{"tasks, each run and recorded exactly once", fmt.Sprint(r.Tasks)},
		{"outbox messages, each delivered exactly once", fmt.Sprint(r.Messages)},
		{"elapsed", r.Elapsed.Round(time.Second).String()},
	})
	return nil
}
