// Command embed is a "larger bot" that embeds Alice Runtime in process
// instead of running alice serve: it opens the store, starts the actor
// runtime, mounts one bot's HTTP API on its own mux next to its own
// routes, and calls the runtime's services directly. Then it shuts down
// in order: HTTP, runtime, store.
//
//	go run ./examples/embed            # a demonstration in a temp dir
//	go run ./examples/embed -serve     # and keep serving until Ctrl-C
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"time"

	"github.com/alice-runtime/alice"
	"github.com/alice-runtime/alice/actors"
	"github.com/alice-runtime/alice/httpapi"
	"github.com/alice-runtime/alice/persistence/badgerstore"
)

func main() {
	var o options
	flag.StringVar(&o.dataDir, "data", "", "data directory (default: a temp dir, removed at exit)")
	flag.StringVar(&o.addr, "addr", "127.0.0.1:0", "address of the bot's HTTP server")
	flag.BoolVar(&o.serve, "serve", false, "keep serving after the demonstration, until interrupted")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, o, os.Stdout); err != nil {
		log.Fatal(err)
	}
}

type options struct {
	dataDir, addr string
	serve         bool
}

// The bot's own token for its skills; a real bot keeps it in its secrets.
const token = "embedded-example-token"

func run(ctx context.Context, o options, out io.Writer) error {
	if o.dataDir == "" {
		dir, err := os.MkdirTemp("", "alice-embed-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		o.dataDir = dir
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))

	// 1. The store: badger on disk. The runtime's state lives here.
	store, err := badgerstore.Open(filepath.Join(o.dataDir, "store"), badgerstore.Options{Logger: logger})
	if err != nil {
		return err
	}

	// 2. The runtime: one actor per conversation, one bot. Without a
	// messenger the bot's messages go to the conversations' local outbox;
	// without an executor, LLM tasks fail (this bot only sends text).
	rt, err := actors.New(actors.Config{
		Store:  store,
		Logger: logger,
		Bots:   map[string]actors.BotConfig{"main": {Rules: alice.TaskRules{Zone: time.UTC}}},
	})
	if err != nil {
		store.Close()
		return err
	}
	bot := rt.Bot("main") // alice.GoalService, TaskService and MessageService

	// 3. The bot's HTTP API for its skills, mounted next to the larger
	// bot's own routes.
	mux := http.NewServeMux()
	api := httpapi.New(httpapi.Config{
		Token: token, RateLimitPerMinute: 120,
		Permissions: httpapi.Permissions{Message: true, Automation: true},
		Goals:       bot, Tasks: bot, Messages: bot, Logger: logger,
	})
	mux.Handle("/api/", api)
	mux.Handle("/healthz", api)
	mux.HandleFunc("GET /bot/status", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "the larger bot is fine")
	})
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		rt.Shutdown(context.Background())
		store.Close()
		return err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	base := "http://" + ln.Addr().String()
	fmt.Fprintf(out, "serving the bot's API and its own routes on %s\n", base)

	demoErr := demo(ctx, bot, base, out)

	if o.serve && demoErr == nil {
		fmt.Fprintf(out, "serving until interrupted; try: curl -H 'Authorization: Bearer %s' -H 'X-Alice-Receive-Id-Type: chat_id' -H 'X-Alice-Receive-Id: oc_team' %s/api/v1/goal\n", token, base)
		<-ctx.Done()
	}

	// 4. Shut down in order: no new requests, then the runtime (it answers
	// what is queued and lets running jobs finish), then the store.
	stopCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = errors.Join(demoErr, srv.Shutdown(stopCtx), rt.Shutdown(stopCtx), store.CloseContext(stopCtx))
	if err == nil {
		fmt.Fprintln(out, "stopped")
	}
	return err
}

// demo uses the services directly, as the larger bot's own code would,
// and the API over HTTP, as a skill would.
func demo(ctx context.Context, bot *actors.Service, base string, out io.Writer) error {
	conv := alice.Conversation{ReceiveIDType: alice.ReceiveChatID, ReceiveID: "oc_team"}

	g, err := bot.CreateGoal(ctx, conv, alice.GoalCreate{Description: "Publish the weekly digest"})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "goal %s: %s\n", g.Status, g.Description)

	// A one-shot task with no run_at runs at once.
	t, err := bot.CreateTask(ctx, alice.TaskCreate{Input: alice.TaskInput{
		ScopeType: alice.Value("chat"), ScopeID: alice.Value("oc_team"),
		Action: alice.Value("send_text"), Text: alice.Value("The digest is out"),
	}})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "task %s scheduled\n", t.Action)

	// The task runs on the runtime's timer; wait for its message.
	var msgs []alice.Message
	for deadline := time.Now().Add(10 * time.Second); len(msgs) == 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			return errors.New("the task's message did not arrive")
		}
		if msgs, _, err = bot.ListMessages(ctx, conv, alice.Page{Limit: 10}); err != nil {
			return err
		}
	}
	fmt.Fprintf(out, "outbox: %q\n", msgs[0].Text)

	// The same goal through the HTTP API, as a skill sees it.
	req, _ := http.NewRequestWithContext(ctx, "GET", base+"/api/v1/goal", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("X-Alice-Receive-Id-Type", "chat_id")
	req.Header.Set("X-Alice-Receive-Id", "oc_team")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	fmt.Fprintf(out, "GET /api/v1/goal: %d\n", resp.StatusCode)

	resp, err = http.Get(base + "/bot/status")
	if err != nil {
		return err
	}
	status, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Fprintf(out, "GET /bot/status: %s", status)
	return nil
}
