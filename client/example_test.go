package client_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"os"

	"github.com/alice-runtime/alice"
	"github.com/alice-runtime/alice/client"
	"github.com/alice-runtime/alice/config"
	"github.com/alice-runtime/alice/server"
)

// exampleServer starts a runtime with one bot on a free loopback port, for
// the examples; a real program reads the address and token from the
// ALICE_RUNTIME_API_* variables or its configuration.
func exampleServer() (baseURL, token string, stop func()) {
	dir, err := os.MkdirTemp("", "alice-example-")
	if err != nil {
		log.Fatal(err)
	}
	cfg, err := config.Parse([]byte("data_dir: "+dir+"\nbots: {main: {runtime_http_addr: '127.0.0.1:0'}}"), "")
	if err != nil {
		log.Fatal(err)
	}
	srv, err := server.New(cfg, server.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		log.Fatal(err)
	}
	go srv.Serve()
	bot := srv.Bots()[0]
	return bot.URL(), bot.Token, func() {
		srv.Shutdown(context.Background())
		os.RemoveAll(dir)
	}
}

// A skill's conversation drives its goal. Errors carry the domain's kinds.
func Example() {
	baseURL, token, stop := exampleServer()
	defer stop()
	ctx := context.Background()

	c, err := client.New(baseURL, token, nil)
	if err != nil {
		log.Fatal(err)
	}
	conv := alice.Conversation{ReceiveIDType: alice.ReceiveChatID, ReceiveID: "oc_team"}
	g, err := c.CreateGoal(ctx, conv, alice.GoalCreate{Description: "Ship the release notes"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(g.Status, g.Description)

	_, err = c.CreateGoal(ctx, conv, alice.GoalCreate{Description: "A second goal"})
	fmt.Println(alice.ErrorCode(err))

	g, _ = c.CompleteGoal(ctx, conv)
	fmt.Println(g.Status)
	// Output:
	// in_progress Ship the release notes
	// conflict
	// completed
}

// Code written against alice.TaskService runs against the runtime in
// process or, through a Client, over HTTP.
func ExampleClient_CreateTask() {
	baseURL, token, stop := exampleServer()
	defer stop()
	ctx := context.Background()

	c, _ := client.New(baseURL, token, nil)
	var tasks alice.TaskService = c
	in := alice.TaskInput{
		ScopeType: alice.Value("chat"), ScopeID: alice.Value("oc_team"),
		Action: alice.Value("send_text"), Text: alice.Value("Stand-up in 5 minutes"),
		Cron: alice.Value("55 9 * * 1-5"), Timezone: alice.Value("Asia/Shanghai"),
	}
	t, err := tasks.CreateTask(ctx, alice.TaskCreate{Input: in, IdempotencyKey: "standup-1"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(t.Status, t.Cron, t.Timezone)

	// A retry with the same key answers the first task again.
	again, _ := tasks.CreateTask(ctx, alice.TaskCreate{Input: in, IdempotencyKey: "standup-1"})
	fmt.Println(again.ID == t.ID)

	_, err = tasks.GetTask(ctx, "task_01jhmk1sm0bkjcjnbkv09hm1jz")
	var e *alice.Error
	fmt.Println(errors.As(err, &e), e.Code, e.Message)
	// Output:
	// active 55 9 * * 1-5 Asia/Shanghai
	// true
	// true not_found task not found
}

// With the local outbox (no chat platform configured), what a
// conversation was sent can be read back.
func ExampleClient_SendMessage() {
	baseURL, token, stop := exampleServer()
	defer stop()
	ctx := context.Background()

	c, _ := client.New(baseURL, token, nil)
	conv := alice.Conversation{ReceiveIDType: alice.ReceiveChatID, ReceiveID: "oc_team"}
	file := alice.Outgoing{Kind: alice.KindFile, FileName: "report.csv", Data: []byte("day,count\nmon,3\n"), Caption: "This week"}
	if _, err := c.SendMessage(ctx, conv, alice.MessageSend{Message: file}); err != nil {
		log.Fatal(err)
	}
	items, total, _ := c.ListMessages(ctx, conv, alice.Page{Limit: 10})
	fmt.Println(total, items[0].Kind, items[0].FileName, items[0].Size, items[0].Caption)

	_, data, _ := c.MessageContent(ctx, conv, items[0].ID)
	fmt.Printf("%q\n", data)
	// Output:
	// 1 file report.csv 16 This week
	// "day,count\nmon,3\n"
}
