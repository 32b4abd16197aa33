package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"

	"github.com/alice-runtime/alice/client"
)

// The client commands talk to a running alice the way skills do: the
// server and token from ALICE_RUNTIME_API_BASE_URL and
// ALICE_RUNTIME_API_TOKEN, the conversation from ALICE_RECEIVE_ID_TYPE,
// ALICE_RECEIVE_ID and the other ALICE_* variables. They print the API's
// JSON answer.
const clientUsage = `
Client commands (skills use these; see "alice COMMAND --help"):
  alice goal [create DESCRIPTION | pause | resume | complete | delete]
  alice task create|list|get|update|delete|runs ...
  alice send image FILE [--caption TEXT]
  alice send file FILE [--filename NAME] [--caption TEXT]
  alice messages [--limit N] [--offset N]

They read ALICE_RUNTIME_API_BASE_URL (default http://127.0.0.1:7331),
ALICE_RUNTIME_API_TOKEN, and the conversation from ALICE_RECEIVE_ID_TYPE,
ALICE_RECEIVE_ID, ALICE_CHAT_TYPE, ALICE_SOURCE_MESSAGE_ID,
ALICE_ACTOR_USER_ID, ALICE_ACTOR_OPEN_ID and ALICE_SESSION_KEY.
`

func newAPIClient() *client.Client { return client.FromEnv(os.Getenv) }

// answerPrinter returns a function that writes a successful answer's body
// (nothing for 204) or the error, and returns the exit code.
func answerPrinter(stdout, stderr io.Writer) func(*client.Response, error) int {
	return func(resp *client.Response, err error) int {
		if err != nil {
			fmt.Fprintln(stderr, "alice:", err)
			return 1
		}
		if len(resp.Body) > 0 {
			stdout.Write(resp.Body)
		}
		return 0
	}
}

func goalCmd(args []string, stdout, stderr io.Writer) int {
	printAnswer := answerPrinter(stdout, stderr)
	if len(args) > 0 && (args[0] == "--help" || args[0] == "-h") {
		fmt.Fprint(stdout, "Usage: alice goal [create DESCRIPTION | pause | resume | complete | delete]\n\nWithout arguments, prints the conversation's active goal (nothing when none).\n")
		return 0
	}
	c, ctx := newAPIClient(), context.Background()
	action := ""
	if len(args) > 0 {
		action = args[0]
	}
	switch action {
	case "", "show":
		return printAnswer(c.JSON(ctx, http.MethodGet, "/api/v1/goal", nil))
	case "create":
		if len(args) < 2 {
			fmt.Fprintln(stderr, "alice goal create: the description is missing")
			return 2
		}
		return printAnswer(c.JSON(ctx, http.MethodPost, "/api/v1/goal", map[string]string{"description": strings.Join(args[1:], " ")}))
	case "pause", "resume", "complete":
		return printAnswer(c.JSON(ctx, http.MethodPost, "/api/v1/goal/"+action, nil))
	case "delete":
		return printAnswer(c.JSON(ctx, http.MethodDelete, "/api/v1/goal", nil))
	}
	fmt.Fprintf(stderr, "alice goal: unknown action %q (create, pause, resume, complete, delete)\n", action)
	return 2
}

func sendCmd(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("alice send", "Usage: alice send image FILE [--caption TEXT]\n       alice send file FILE [--filename NAME] [--caption TEXT]\n", stderr)
	caption := fs.String("caption", "", "text delivered with the attachment")
	name := fs.String("filename", "", "display name of a file (default: its name)")
	if len(args) < 2 || (args[0] != "image" && args[0] != "file") {
		if len(args) > 0 && (args[0] == "--help" || args[0] == "-h") {
			fs.SetOutput(stdout)
			fs.Usage()
			return 0
		}
		fs.Usage()
		return 2
	}
	kind, path := args[0], args[1]
	if code, done := parseFlags(fs, args[2:]); done {
		return code
	}
	id, err := newAPIClient().SendFile(context.Background(), kind, path, *caption, *name)
	if err != nil {
		fmt.Fprintln(stderr, "alice:", err)
		return 1
	}
	fmt.Fprintf(stdout, "{\"message_id\":%q}\n", id)
	return 0
}

func messagesCmd(args []string, stdout, stderr io.Writer) int {
	printAnswer := answerPrinter(stdout, stderr)
	fs := newFlags("alice messages", "Usage: alice messages [--limit N] [--offset N]\n\nLists the conversation's messages in the local outbox, oldest first.\n", stderr)
	limit := fs.Int("limit", 50, "at most this many (1-200)")
	offset := fs.Int("offset", 0, "skip this many")
	if code, done := parseFlags(fs, args); done {
		return code
	}
	q := url.Values{"limit": {strconv.Itoa(*limit)}, "offset": {strconv.Itoa(*offset)}}
	return printAnswer(newAPIClient().JSON(context.Background(), http.MethodGet, "/api/v1/messages?"+q.Encode(), nil))
}

func taskCmd(args []string, stdout, stderr io.Writer) int {
	printAnswer := answerPrinter(stdout, stderr)
	usage := "Usage: alice task create [flags] | list [flags] | get ID | update ID JSON_MERGE_PATCH | delete ID | runs ID\n"
	if len(args) == 0 || args[0] == "--help" || args[0] == "-h" {
		fmt.Fprint(stdout, usage)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	c, ctx := newAPIClient(), context.Background()
	const tasks = "/api/v1/automation/tasks"
	one := func(f func(id string) int) int {
		if len(args) < 2 {
			fmt.Fprintf(stderr, "alice task %s: the task id is missing\n", args[0])
			return 2
		}
		return f(url.PathEscape(args[1]))
	}
	switch args[0] {
	case "create":
		return taskCreate(c, args[1:], stdout, stderr)
	case "list":
		fs := newFlags("alice task list", "Usage: alice task list [--status STATUS] [--limit N] [--offset N]\n", stderr)
		status := fs.String("status", "", "active, completed or cancelled")
		limit := fs.Int("limit", 50, "at most this many (1-200)")
		offset := fs.Int("offset", 0, "skip this many")
		if code, done := parseFlags(fs, args[1:]); done {
			return code
		}
		q := url.Values{"limit": {strconv.Itoa(*limit)}, "offset": {strconv.Itoa(*offset)}}
		if *status != "" {
			q.Set("status", *status)
		}
		return printAnswer(c.JSON(ctx, http.MethodGet, tasks+"?"+q.Encode(), nil))
	case "get":
		return one(func(id string) int { return printAnswer(c.JSON(ctx, http.MethodGet, tasks+"/"+id, nil)) })
	case "runs":
		return one(func(id string) int { return printAnswer(c.JSON(ctx, http.MethodGet, tasks+"/"+id+"/runs", nil)) })
	case "delete":
		return one(func(id string) int { return printAnswer(c.JSON(ctx, http.MethodDelete, tasks+"/"+id, nil)) })
	case "update":
		return one(func(id string) int {
			if len(args) < 3 {
				fmt.Fprintln(stderr, `alice task update: the merge patch is missing, e.g. '{"status":"cancelled"}'`)
				return 2
			}
			return printAnswer(c.Do(ctx, http.MethodPatch, tasks+"/"+id, "application/merge-patch+json", strings.NewReader(args[2])))
		})
	}
	fmt.Fprint(stderr, usage)
	return 2
}

func taskCreate(c *client.Client, args []string, stdout, stderr io.Writer) int {
	printAnswer := answerPrinter(stdout, stderr)
	fs := newFlags("alice task create", "Usage: alice task create [flags]\n\nCreates a task; without --cron or --run-at it runs at once.\n", stderr)
	scope := c.Conversation.Scope()
	fields := map[string]*string{
		"scope_type": fs.String("scope-type", string(scope.Type), "chat or user (default: the current conversation's)"),
		"scope_id":   fs.String("scope-id", scope.ID, "chat or user id (default: the current conversation's)"),
		"action":     fs.String("action", "send_text", "send_text, run_llm or run_workflow"),
		"text":       fs.String("text", "", "text to send (send_text)"),
		"prompt":     fs.String("prompt", "", "LLM prompt (run_llm) or workflow input"),
		"workflow":   fs.String("workflow", "", "workflow name (run_workflow)"),
		"cron":       fs.String("cron", "", `cron expression, e.g. "55 9 * * 1-5" or @daily`),
		"run_at":     fs.String("run-at", "", "RFC 3339 time of a one-shot run (default: now)"),
		"timezone":   fs.String("timezone", "", "IANA zone the schedule is read in"),
	}
	if code, done := parseFlags(fs, args); done {
		return code
	}
	body := map[string]string{}
	for k, v := range fields {
		if *v != "" {
			body[k] = *v
		}
	}
	return printAnswer(c.JSON(context.Background(), http.MethodPost, "/api/v1/automation/tasks", body))
}
