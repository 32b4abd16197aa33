// Command alice-load measures Alice Runtime under load on loopback. It runs
// the alice binary as a server process of its own, so that the memory it
// reports is the server's alone, and reports each result beside a baseline
// measured in the same run (a bare net/http handler, the disk's own fsync
// rate, or an older alice binary), because absolute numbers on a shared
// machine mean little.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/alice-runtime/alice"
)

const usage = `alice-load measures Alice Runtime under load on loopback.

Usage:
  alice-load [flags]

Scenarios (-scenario):
  get      GET /api/v1/goal through the whole stack, against a bare net/http
           handler writing the same JSON
  writes   durable writes over HTTP: task creates, goal create+complete in
           fresh conversations and in conversations holding 400 tasks each,
           against the disk's own fsync rate
  burst    10,000 one-shot tasks due within 2 s: how late they start
  scale    1,000,000 tasks over 100,000 conversations: create rate, server
           memory, start-up time, and the lateness of 100,000 due in a minute
  bigtext  4 conversations x 100 tasks with 64 KB of text: the data dir's size
           against the payload
  chaos    goals, tasks and sends from many conversations while the server is
           killed with SIGKILL and restarted; afterwards every acknowledged
           write must be there once and every due occurrence recorded once
  all      get, writes, burst and bigtext

Examples:
  alice-load -scenario writes
  alice-load -scenario writes -before /tmp/alice-old      # the same, beside an older build
  alice-load -scenario writes -rate 6000                  # latencies at a fixed 6,000 requests/s
  alice-load -scenario scale -tasks 1000000 -conversations 100000 -due 100000
  alice-load -scenario chaos -kills 200
  alice-load -scenario get -url http://127.0.0.1:7331 -token "$(alice token)"

Flags:
`

// options are the flags.
type options struct {
	scenario, bin, before, url, token, work string
	latenessOut                             string
	duration                                time.Duration
	rate                                    float64
	rounds, concurrency                     int
	tasks, conversations, due, kills        int
}

func main() {
	var o options
	fs := flag.NewFlagSet("alice-load", flag.ExitOnError)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usage)
		fs.PrintDefaults()
	}
	fs.StringVar(&o.scenario, "scenario", "all", "get, writes, burst, scale, bigtext, chaos or all")
	fs.StringVar(&o.bin, "bin", "", "the alice `binary` to measure (default: build ./cmd/alice)")
	fs.StringVar(&o.before, "before", "", "an older alice `binary` measured in the same run, round by round")
	fs.StringVar(&o.url, "url", "", "measure an already running server at this `URL` instead (get and writes)")
	fs.StringVar(&o.token, "token", "", "the running server's `token` (with -url)")
	fs.StringVar(&o.work, "work", "", "`directory` for data dirs and binaries (default: a temp dir, removed after)")
	fs.DurationVar(&o.duration, "duration", 5*time.Second, "length of one measurement")
	fs.IntVar(&o.rounds, "rounds", 3, "measurements per target; the median is reported")
	fs.IntVar(&o.concurrency, "concurrency", 64, "concurrent clients")
	fs.Float64Var(&o.rate, "rate", 0, "writes: requests per `second`, an open loop whose latencies count from when each request was due (default: as fast as the clients go)")
	fs.IntVar(&o.tasks, "tasks", 1_000_000, "tasks to create (scale)")
	fs.IntVar(&o.conversations, "conversations", 100_000, "conversations they spread over (scale)")
	fs.IntVar(&o.due, "due", 100_000, "of the tasks, how many come due in one minute (scale)")
	fs.IntVar(&o.kills, "kills", 20, "how many times the server is killed (chaos)")
	fs.StringVar(&o.latenessOut, "lateness-out", "", "burst, scale: write each occurrence's due time (unix ms) and lateness (ms) as CSV to `file`, one file per target (file-alice.csv, file-before.csv)")
	fs.Parse(os.Args[1:])
	if o.duration <= 0 || o.rounds < 1 || o.concurrency < 1 || o.concurrency > 4096 || o.rate < 0 || (o.url != "" && o.token == "") {
		fmt.Fprintln(os.Stderr, "alice-load: -duration must be positive, -rounds at least 1, -concurrency 1 to 4096, -rate not negative, and -url needs -token")
		os.Exit(2)
	}
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "alice-load:", err)
		os.Exit(1)
	}
}

func run(o options) error {
	if o.work == "" {
		dir, err := os.MkdirTemp("", "alice-load-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		o.work = dir
	}
	if o.bin == "" && o.url == "" {
		o.bin = filepath.Join(o.work, "alice")
		fmt.Fprintln(os.Stderr, "building ./cmd/alice ...")
		if out, err := exec.Command("go", "build", "-o", o.bin, "./cmd/alice").CombinedOutput(); err != nil {
			return fmt.Errorf("go build: %v\n%s", err, out)
		}
	}
	scenarios := map[string]func(options) error{
		"get": scenarioGet, "writes": scenarioWrites, "burst": scenarioBurst, "scale": scenarioScale,
		"bigtext": scenarioBigText, "chaos": scenarioChaos,
	}
	names := []string{o.scenario}
	if o.scenario == "all" {
		names = []string{"get", "writes", "burst", "bigtext"}
	}
	for _, name := range names {
		f, ok := scenarios[name]
		if !ok {
			return fmt.Errorf("unknown scenario %q", name)
		}
		if err := f(o); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	return nil
}

// targets are the servers a scenario compares: alice, and the older binary
// when -before is given, or the running server of -url.
func targets(o options, scenario, extra string) ([]*target, error) {
	if o.url != "" {
		return []*target{{name: "alice", url: o.url, token: o.token}}, nil
	}
	var out []*target
	for _, b := range []struct{ name, bin string }{{"alice", o.bin}, {"before", o.before}} {
		if b.bin == "" {
			continue
		}
		t, err := newTarget(scenario+"-"+b.name, b.bin, o.work, extra)
		if err != nil {
			return nil, err
		}
		t.name = b.name
		out = append(out, t)
	}
	return out, nil
}

var (
	bg       = context.Background()
	zeroConv alice.Conversation
)

func chat(id string) alice.Conversation {
	return alice.Conversation{ReceiveIDType: alice.ReceiveChatID, ReceiveID: id}
}

func printTable(title string, header []string, rows [][]string) {
	fmt.Printf("\n%s\n\n| %s |\n|%s\n", title, strings.Join(header, " | "), strings.Repeat("---|", len(header)))
	for _, r := range rows {
		fmt.Printf("| %s |\n", strings.Join(r, " | "))
	}
}
