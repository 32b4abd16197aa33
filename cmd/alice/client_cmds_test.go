package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/alice-runtime/alice/internal/testimages"
)

// TestClientCommands drives a real server with the client commands, set up
// only through the environment, as a skill would be.
func TestClientCommands(t *testing.T) {
	cfg := writeConfig(t, "data_dir: data\nbots:\n  main:\n    runtime_http_addr: 127.0.0.1:0\n    runtime_http_token: durable-test-token-123\n")
	p := startAlice(t, cfg)
	dir := filepath.Dir(cfg)
	t.Setenv("ALICE_RUNTIME_API_BASE_URL", p.base)
	t.Setenv("ALICE_RUNTIME_API_TOKEN", "durable-test-token-123")
	t.Setenv("ALICE_RECEIVE_ID_TYPE", "chat_id")
	t.Setenv("ALICE_RECEIVE_ID", "oc_cli")
	t.Setenv("ALICE_SOURCE_MESSAGE_ID", "om_trigger")

	alice := func(args ...string) (int, string, string) {
		var out, errOut bytes.Buffer
		code := run(args, &out, &errOut)
		return code, out.String(), errOut.String()
	}
	field := func(js, name string) string {
		var m map[string]any
		if err := json.Unmarshal([]byte(js), &m); err != nil {
			t.Fatalf("output %q is not a JSON object: %v", js, err)
		}
		s, _ := m[name].(string)
		return s
	}

	if code, out, _ := alice("goal"); code != 0 || out != "" {
		t.Fatalf("goal with none: %d %q", code, out)
	}
	if code, out, _ := alice("goal", "create", "Ship", "the", "CLI"); code != 0 || field(out, "description") != "Ship the CLI" {
		t.Fatalf("goal create: %d %q", code, out)
	}
	if code, _, errOut := alice("goal", "create", "again"); code != 1 || !strings.Contains(errOut, "409") || !strings.Contains(errOut, "active goal already exists") {
		t.Fatalf("second goal create: %d %q", code, errOut)
	}
	if code, out, _ := alice("goal", "pause"); code != 0 || field(out, "status") != "paused" {
		t.Fatalf("goal pause: %d %q", code, out)
	}

	// A task defaults to the current conversation's scope.
	code, out, errOut := alice("task", "create", "--text", "from the cli", "--run-at", "2030-01-01T09:00:00Z")
	if code != 0 || field(out, "scope_id") != "oc_cli" || field(out, "scope_type") != "chat" {
		t.Fatalf("task create: %d %q %q", code, out, errOut)
	}
	id := field(out, "id")
	if code, out, _ := alice("task", "update", id, `{"status":"cancelled"}`); code != 0 || field(out, "status") != "cancelled" {
		t.Fatalf("task update: %d %q", code, out)
	}
	if code, out, _ := alice("task", "list", "--status", "cancelled"); code != 0 || !strings.Contains(out, id) {
		t.Fatalf("task list: %d %q", code, out)
	}
	if code, _, _ := alice("task", "delete", id); code != 0 {
		t.Fatalf("task delete: %d", code)
	}
	if code, _, errOut := alice("task", "get", id); code != 1 || !strings.Contains(errOut, "task not found") {
		t.Fatalf("task get after delete: %d %q", code, errOut)
	}

	img := filepath.Join(dir, "shot.png")
	os.WriteFile(img, testimages.Samples(t)["png"], 0o600)
	if code, out, errOut := alice("send", "image", img, "--caption", "look"); code != 0 || !strings.HasPrefix(field(out, "message_id"), "om_") {
		t.Fatalf("send image: %d %q %q", code, out, errOut)
	}
	txt := filepath.Join(dir, "notes.txt")
	os.WriteFile(txt, []byte("not an image"), 0o600)
	if code, _, errOut := alice("send", "image", txt); code != 1 || !strings.Contains(errOut, "400") {
		t.Fatalf("send a text file as image: %d %q", code, errOut)
	}
	code, out, _ = alice("messages")
	var items []map[string]any
	if json.Unmarshal([]byte(out), &items); code != 0 || len(items) != 1 || items[0]["caption"] != "look" || items[0]["reply_to"] != "om_trigger" {
		t.Fatalf("messages: %d %q", code, out)
	}

	t.Setenv("ALICE_RUNTIME_API_TOKEN", "wrong-token-value")
	if code, _, errOut := alice("goal"); code != 1 || !strings.Contains(errOut, "401") {
		t.Fatalf("wrong token: %d %q", code, errOut)
	}
}
