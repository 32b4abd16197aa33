package main

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/alice-runtime/alice/internal/feishutest"
	"github.com/alice-runtime/alice/persistence/badgerstore"
)

// TestDoctor runs alice doctor against a good setup and against each kind
// of broken one: every check says ok or what is wrong, and any failure
// makes the exit code 1.
func TestDoctor(t *testing.T) {
	platform := feishutest.New("cli_doc", "right-secret")
	defer platform.Close()
	endpoint := func(status int) string {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/v1/models" {
				t.Errorf("the endpoint check asked for %s", r.URL.Path)
			}
			w.WriteHeader(status)
		}))
		t.Cleanup(srv.Close)
		return srv.URL + "/v1"
	}
	busy, err := net.Listen("tcp", "127.0.0.1:0") // a program that is not alice
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	go http.Serve(busy, http.NotFoundHandler())

	tests := []struct {
		name  string
		bot   string // the bot's YAML, under bots.main
		top   string // top-level YAML besides data_dir
		setup func(t *testing.T, dataDir string)
		env   map[string]string
		fail  string // the failing check's words; "" = all pass
	}{
		{name: "good", bot: "{runtime_http_addr: '127.0.0.1:0', llm: {command: [cat]}, feishu: {app_id: cli_doc, app_secret: right-secret, base_url: " + platform.URL + "}}"},
		{name: "good endpoint", bot: "{runtime_http_addr: '127.0.0.1:0', llm: {openai: {base_url: " + endpoint(200) + ", model: m, api_key_env: DOC_KEY}}}", env: map[string]string{"DOC_KEY": "k"}},
		{name: "bad config", bot: "{rate_limit_per_minute: lots}", fail: "FAIL config"},
		{name: "token readable by others", bot: "{runtime_http_addr: '127.0.0.1:0'}", setup: func(t *testing.T, dir string) {
			os.MkdirAll(filepath.Join(dir, "bots", "main"), 0o700)
			os.WriteFile(filepath.Join(dir, "bots", "main", "token"), []byte("abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG\n"), 0o644)
		}, fail: "chmod 600"},
		{name: "address in use", bot: "{runtime_http_addr: '" + busy.Addr().String() + "'}", fail: "in use by another program"},
		{name: "store held by a process that does not serve", bot: "{runtime_http_addr: '127.0.0.1:0'}", setup: func(t *testing.T, dir string) {
			s, err := badgerstore.Open(filepath.Join(dir, "store"), badgerstore.Options{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
		}, fail: "does not answer on the configured addresses"},
		{name: "wrong feishu secret", bot: "{runtime_http_addr: '127.0.0.1:0', feishu: {app_id: cli_doc, app_secret: wrong-secret, base_url: " + platform.URL + "}}", fail: "feishu app cli_doc"},
		{name: "missing agent", bot: "{runtime_http_addr: '127.0.0.1:0', llm: {command: [no-such-agent-anywhere]}}", fail: "not found on PATH"},
		{name: "endpoint refuses the key", bot: "{runtime_http_addr: '127.0.0.1:0', llm: {openai: {base_url: " + endpoint(401) + ", model: m, api_key_env: DOC_KEY}}}", env: map[string]string{"DOC_KEY": "k"}, fail: "refuses the key"},
		{name: "endpoint key unset", bot: "{runtime_http_addr: '127.0.0.1:0', llm: {openai: {base_url: " + endpoint(200) + ", model: m, api_key_env: DOC_KEY}}}", fail: "DOC_KEY is empty or unset"},
		{name: "too little free space", bot: "{runtime_http_addr: '127.0.0.1:0'}", top: "min_free_disk: 1000000TiB\n", fail: "less than min_free_disk"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dataDir := filepath.Join(t.TempDir(), "data")
			if tt.setup != nil {
				tt.setup(t, dataDir)
			}
			cfg := writeConfig(t, fmt.Sprintf("data_dir: %s\n%sbots:\n  main: %s\n", dataDir, tt.top, tt.bot))
			code, out, errOut := runCLI(tt.env, "", "doctor", "--config", cfg)
			if tt.fail == "" {
				if code != 0 || strings.Contains(out, "FAIL") {
					t.Fatalf("doctor: %d\n%s%s", code, out, errOut)
				}
				return
			}
			if code != 1 || !strings.Contains(out, tt.fail) {
				t.Fatalf("doctor: %d, want 1 and a line with %q\n%s%s", code, tt.fail, out, errOut)
			}
			for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
				if !strings.HasPrefix(line, "ok   ") && !strings.HasPrefix(line, "FAIL ") {
					t.Fatalf("line %q is neither ok nor FAIL", line)
				}
			}
		})
	}
}

// TestDoctorWithTheServerRunning: a running alice on the configured
// address and holding the store is what doctor expects to find.
func TestDoctorWithTheServerRunning(t *testing.T) {
	cfg := writeConfig(t, "data_dir: data\nbots:\n  main:\n    runtime_http_addr: 127.0.0.1:0\n    runtime_http_token: durable-test-token-123\n")
	p := startAlice(t, cfg)
	addr := strings.TrimPrefix(p.base, "http://")
	text, _ := os.ReadFile(cfg)
	os.WriteFile(cfg, []byte(strings.Replace(string(text), "127.0.0.1:0", addr, 1)), 0o600)
	code, out, errOut := runCLI(nil, "", "doctor", "--config", cfg)
	if code != 0 || !strings.Contains(out, "a running alice answers on it") || !strings.Contains(out, fmt.Sprintf("held by the running alice, pid %d", p.cmd.Process.Pid)) {
		t.Fatalf("doctor: %d\n%s%s", code, out, errOut)
	}
}
