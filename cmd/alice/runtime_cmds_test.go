package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/alice-runtime/alice"
	"github.com/alice-runtime/alice/internal/testimages"
)

// skillEnv is the environment a skill runs with, against p.
func skillEnv(p *process, conv string) map[string]string {
	return map[string]string{
		"ALICE_RUNTIME_API_BASE_URL": p.base,
		"ALICE_RUNTIME_API_TOKEN":    "durable-test-token-123",
		"ALICE_RECEIVE_ID_TYPE":      "chat_id",
		"ALICE_RECEIVE_ID":           conv,
		"ALICE_SOURCE_MESSAGE_ID":    "om_trigger",
	}
}

func field(t *testing.T, js, name string) string {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(js), &m); err != nil {
		t.Fatalf("output %q is not a JSON object: %v", js, err)
	}
	s, _ := m[name].(string)
	return s
}

// TestClientCommands drives a real server with the short client commands,
// set up only through the environment, as a skill would be.
func TestClientCommands(t *testing.T) {
	cfg := writeConfig(t, "data_dir: data\nbots:\n  main:\n    runtime_http_addr: 127.0.0.1:0\n    runtime_http_token: durable-test-token-123\n")
	p := startAlice(t, cfg)
	dir := filepath.Dir(cfg)
	env := skillEnv(p, "oc_cli")

	if code, out, _ := runCLI(env, "", "goal", "get"); code != 0 || field(t, out, "message") != "no active goal" {
		t.Fatalf("goal get with none: %d %q", code, out)
	}
	if code, out, _ := runCLI(env, "", "goal", "create", "Ship", "the", "CLI"); code != 0 || field(t, out, "description") != "Ship the CLI" || !strings.Contains(out, "\n  \"id\"") {
		t.Fatalf("goal create from text: %d %q; want indented JSON", code, out)
	}
	if code, _, errOut := runCLI(env, "", "goal", "create", "again"); code != 1 || !strings.Contains(errOut, "active goal already exists") {
		t.Fatalf("second goal create: %d %q", code, errOut)
	}
	if code, out, _ := runCLI(env, "", "goal", "pause"); code != 0 || field(t, out, "status") != "paused" {
		t.Fatalf("goal pause: %d %q", code, out)
	}
	if code, out, _ := runCLI(env, "", "goal", "clear"); code != 0 || field(t, out, "message") != "goal deleted" {
		t.Fatalf("goal clear: %d %q", code, out)
	}
	// JSON from standard input, as skills send it; flags after arguments.
	if code, out, errOut := runCLI(env, `{"objective":"Add tests","deadline_in":"48h"}`, "goal", "create"); code != 0 || field(t, out, "description") != "Add tests" || field(t, out, "deadline_at") == "" {
		t.Fatalf("goal create from stdin: %d %q %q", code, out, errOut)
	}

	// A task defaults to the current conversation's scope.
	code, out, errOut := runCLI(env, "", "task", "create", "--text", "from the cli", "--run-at", "2030-01-01T09:00:00Z")
	if code != 0 || field(t, out, "scope_id") != "oc_cli" || field(t, out, "scope_type") != "chat" || field(t, out, "action") != "send_text" {
		t.Fatalf("task create: %d %q %q", code, out, errOut)
	}
	id := field(t, out, "id")
	if code, out, _ := runCLI(env, "", "task", "update", id, `{"status":"cancelled"}`); code != 0 || field(t, out, "status") != "cancelled" {
		t.Fatalf("task update: %d %q", code, out)
	}
	if code, out, _ := runCLI(env, "", "task", "list", "--status", "cancelled"); code != 0 || !strings.Contains(out, id) {
		t.Fatalf("task list: %d %q", code, out)
	}
	if code, out, _ := runCLI(env, "", "task", "delete", id); code != 0 || field(t, out, "message") != "task deleted" {
		t.Fatalf("task delete: %d %q", code, out)
	}
	if code, _, errOut := runCLI(env, "", "task", "get", id); code != 1 || !strings.Contains(errOut, "task not found") {
		t.Fatalf("task get after delete: %d %q", code, errOut)
	}

	img := filepath.Join(dir, "shot.png")
	os.WriteFile(img, testimages.Samples(t)["png"], 0o600)
	if code, out, errOut := runCLI(env, "", "send", "image", img, "--caption", "look"); code != 0 || !strings.HasPrefix(field(t, out, "message_id"), "om_") {
		t.Fatalf("send image: %d %q %q", code, out, errOut)
	}
	txt := filepath.Join(dir, "notes.txt")
	os.WriteFile(txt, []byte("not an image"), 0o600)
	if code, _, errOut := runCLI(env, "", "send", "image", "--path", txt); code != 1 || !strings.Contains(errOut, "not a real image") && !strings.Contains(errOut, "the image is") {
		t.Fatalf("send a text file as image: %d %q", code, errOut)
	}
	code, out, _ = runCLI(env, "", "messages")
	var items []map[string]any
	if json.Unmarshal([]byte(out), &items); code != 0 || len(items) != 1 || items[0]["caption"] != "look" || items[0]["reply_to"] != "om_trigger" {
		t.Fatalf("messages: %d %q", code, out)
	}

	env["ALICE_RUNTIME_API_TOKEN"] = "wrong-token-value"
	if code, _, errOut := runCLI(env, "", "goal", "get"); code != 1 || !strings.Contains(errOut, "ALICE_RUNTIME_API_TOKEN") {
		t.Fatalf("wrong token: %d %q; want the variable to check named", code, errOut)
	}
}

// TestMissingVariablesAreNamed: the command reports what is missing
// itself, naming the variable, before any request.
func TestMissingVariablesAreNamed(t *testing.T) {
	full := map[string]string{
		"ALICE_RUNTIME_API_BASE_URL": "http://127.0.0.1:1", // nothing listens: a request would fail differently
		"ALICE_RUNTIME_API_TOKEN":    "t-0123456789abcdef",
		"ALICE_RECEIVE_ID_TYPE":      "chat_id",
		"ALICE_RECEIVE_ID":           "oc_1",
	}
	for _, tt := range []struct {
		unset, set, value, want string
	}{
		{unset: "ALICE_RUNTIME_API_TOKEN", want: "ALICE_RUNTIME_API_TOKEN is not set"},
		{unset: "ALICE_RECEIVE_ID", want: "ALICE_RECEIVE_ID is not set"},
		{unset: "ALICE_RECEIVE_ID_TYPE", want: "ALICE_RECEIVE_ID_TYPE is not set"},
		{set: "ALICE_RECEIVE_ID_TYPE", value: "phone", want: "ALICE_RECEIVE_ID_TYPE \"phone\" is not one of"},
		{set: "ALICE_CHAT_TYPE", value: "forum", want: "ALICE_CHAT_TYPE \"forum\""},
		{set: "ALICE_RUNTIME_API_BASE_URL", value: "ftp://x", want: "ALICE_RUNTIME_API_BASE_URL"},
	} {
		env := map[string]string{}
		for k, v := range full {
			env[k] = v
		}
		delete(env, tt.unset)
		if tt.set != "" {
			env[tt.set] = tt.value
		}
		code, _, errOut := runCLI(env, "", "runtime", "goal", "get")
		if code != 1 || !strings.Contains(errOut, tt.want) || strings.Contains(errOut, "X-Alice") {
			t.Errorf("%+v: exit %d, stderr %q; want %q", tt, code, errOut, tt.want)
		}
	}
	code, _, errOut := runCLI(full, "", "runtime", "goal", "get")
	if code != 1 || !strings.Contains(errOut, "start the runtime with `alice serve`") {
		t.Fatalf("nothing listening: exit %d %q", code, errOut)
	}
	if code, _, errOut := runCLI(full, "", "runtime", "automation", "create"); code != 2 || !strings.Contains(errOut, "JSON is missing") {
		t.Fatalf("create without JSON on a terminal: exit %d %q", code, errOut)
	}
}

func TestTaskInputFromSkills(t *testing.T) {
	scope := alice.Scope{Type: alice.ScopeChat, ID: "oc_1"}
	base := func(f func(*alice.TaskInput)) alice.TaskInput {
		in := alice.TaskInput{ScopeType: alice.Value("chat"), ScopeID: alice.Value("oc_1")}
		f(&in)
		return in
	}
	tests := []struct {
		name, body string
		want       alice.TaskInput
		ignored    []string
		err        string
	}{
		{"flat upstream", `{"prompt":"check","every_seconds":1800,"max_runs":3,"title":"t"}`, base(func(in *alice.TaskInput) {
			in.Action, in.Prompt, in.Cron, in.MaxRuns, in.Title = alice.Value("run_llm"), alice.Value("check"), alice.Value("@every 1800s"), alice.Value(3), alice.Value("t")
		}), nil, ""},
		{"nested upstream", `{"title":"daily sync","schedule":{"type":"cron","cron_expr":"0 1 * * *"},"action":{"type":"run_llm","prompt":"总结","model":"gpt"},"manage_mode":"scope_all"}`, base(func(in *alice.TaskInput) {
			in.Action, in.Prompt, in.Cron, in.Title = alice.Value("run_llm"), alice.Value("总结"), alice.Value("0 1 * * *"), alice.Value("daily sync")
		}), []string{"action.model", "manage_mode"}, ""},
		{"interval one-off", `{"schedule":{"type":"interval","every_seconds":60},"max_runs":1,"action":{"type":"send_text","text":"hi"}}`, base(func(in *alice.TaskInput) {
			in.Action, in.Text, in.Cron, in.MaxRuns = alice.Value("send_text"), alice.Value("hi"), alice.Value("@every 60s"), alice.Value(1)
		}), nil, ""},
		{"the API's own fields", `{"scope_type":"user","scope_id":"ou_2","action":"send_text","text":"x","run_at":"2030-01-01T00:00:00Z"}`, alice.TaskInput{
			ScopeType: alice.Value("user"), ScopeID: alice.Value("ou_2"), Action: alice.Value("send_text"), Text: alice.Value("x"), RunAt: alice.Value("2030-01-01T00:00:00Z"),
		}, nil, ""},
		{"text alone is send_text", `{"text":"x"}`, base(func(in *alice.TaskInput) { in.Action, in.Text = alice.Value("send_text"), alice.Value("x") }), nil, ""},
		{"too often", `{"prompt":"p","every_seconds":30}`, alice.TaskInput{}, nil, "at least 60"},
		{"unknown field", `{"prompt":"p","colour":"red"}`, alice.TaskInput{}, nil, `unknown field "colour"`},
		{"two schedules", `{"prompt":"p","cron":"@daily","every_seconds":60}`, alice.TaskInput{}, nil, "not both"},
		{"bad schedule type", `{"prompt":"p","schedule":{"type":"weekly"}}`, alice.TaskInput{}, nil, "not interval or cron"},
		{"not JSON", `prompt: p`, alice.TaskInput{}, nil, "invalid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in, ignored, err := taskInput([]byte(tt.body), scope)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(in, tt.want) || !reflect.DeepEqual(ignored, tt.ignored) {
				t.Fatalf("got %+v ignored %v err %v;\nwant %+v ignored %v", in, ignored, err, tt.want, tt.ignored)
			}
		})
	}
}

// TestCommandsOverTheSocket: with a unix:// base URL, as upstream Alice
// hands its skills, the commands reach the server's socket.
func TestCommandsOverTheSocket(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "alice.sock")
	cfg := writeConfig(t, "data_dir: data\nbots:\n  main:\n    runtime_http_addr: 127.0.0.1:0\n    runtime_socket: "+sock+"\n    runtime_http_token: durable-test-token-123\n")
	p := startAlice(t, cfg)
	env := skillEnv(p, "oc_sock")
	env["ALICE_RUNTIME_API_BASE_URL"] = "unix://" + sock
	if code, out, errOut := runCLI(env, `{"objective":"over the socket"}`, "runtime", "goal", "create"); code != 0 || field(t, out, "description") != "over the socket" {
		t.Fatalf("goal create over the socket: %d %q %q", code, out, errOut)
	}
	if code, g := p.request(t, "GET", "/api/v1/goal", "", "oc_sock"); code != 200 || g["description"] != "over the socket" {
		t.Fatalf("over TCP afterwards: %d %v", code, g)
	}
}
