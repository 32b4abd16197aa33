package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/alice-runtime/alice/internal/serveproc"
)

// runCLI runs a command in-process with env as its whole environment and
// stdin as its standard input (not a terminal unless stdin is nil).
func runCLI(env map[string]string, stdin string, args ...string) (code int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	c := cli{stdin: strings.NewReader(stdin), stdinTerminal: stdin == "", stdout: &out, stderr: &errOut, getenv: func(k string) string { return env[k] }}
	code = run(args, c)
	return code, out.String(), errOut.String()
}

func TestCommands(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "alice.yaml")
	os.WriteFile(good, []byte("data_dir: data\nbots:\n  b: {}\n  a: {runtime_http_token: configured-token-1234}\n"), 0o600)
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("bots:\n  main:\n    runtime_http_addr: 0.0.0.0:7331\n"), 0o600)

	tests := []struct {
		name   string
		args   []string
		code   int
		stdout string // regexp
		stderr string // regexp
	}{
		{"version", []string{"version"}, 0, `^alice \S+\n$`, `^$`},
		{"help lists every command", []string{"--help"}, 0, `(?s)(\n  (serve|token|version|check|runtime|goal|task|send|messages|completion) .*){10}`, `^$`},
		{"unknown command", []string{"frobnicate"}, 2, `^$`, `unknown command "frobnicate"`},
		{"unknown flag", []string{"serve", "--port", "1"}, 2, `^$`, `unknown flag: --port`},
		{"stray argument", []string{"token", "extra"}, 2, `^$`, `unknown command "extra"|accepts 0 arg`},
		{"invalid config", []string{"serve", "--config", bad}, 1, `^$`, `bots\.main\.runtime_http_addr: .*not a loopback address`},
		{"missing config", []string{"token", "--config", filepath.Join(dir, "nope.yaml")}, 1, `^$`, `no such file`},
		{"configured token", []string{"token", "--config", good}, 0, `^configured-token-1234\n$`, `^$`},
		{"generated token", []string{"token", "--config", good, "--bot", "b"}, 0, `^[A-Za-z0-9_-]{43}\n$`, `had no token yet; generated one in /.*/data/bots/b \(`},
		{"unknown bot", []string{"token", "--config", good, "--bot", "zz"}, 1, `^$`, `no bot "zz"`},
		{"bad log level", []string{"serve", "--log-level", "loud"}, 2, `^$`, `--log-level`},
		{"completion", []string{"completion", "bash"}, 0, `bash completion`, `^$`},
		{"check an empty dir", []string{"check", "--data-dir", dir}, 1, `^$`, `holds no store`},
		{"upstream workflow command", []string{"runtime", "workflow", "code-army-status"}, 1, `^$`, `code_army workflow, which this runtime does not have`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(nil, "", tt.args...)
			if code != tt.code {
				t.Fatalf("exit code %d, want %d (stderr %q)", code, tt.code, stderr)
			}
			if !regexp.MustCompile(tt.stdout).MatchString(stdout) {
				t.Errorf("stdout %q does not match %q", stdout, tt.stdout)
			}
			if !regexp.MustCompile(tt.stderr).MatchString(stderr) {
				t.Errorf("stderr %q does not match %q", stderr, tt.stderr)
			}
		})
	}
	// The generated token is stable: a second call prints the same one,
	// and says nothing more.
	_, first, _ := runCLI(nil, "", "token", "--config", good, "--bot", "b")
	_, second, notice := runCLI(nil, "", "token", "--config", good, "--bot", "b")
	if first != second {
		t.Fatalf("token changed between calls: %q then %q", first, second)
	}
	if notice != "" {
		t.Errorf("reading an existing token printed %q on stderr", notice)
	}
}

// TestHelpEverywhere asks every command of the tree for --help: each must
// print its usage and exit 0, doing nothing else (no file named --help is
// opened, no server is called).
func TestHelpEverywhere(t *testing.T) {
	var walk func(cmd *cobra.Command)
	walk = func(cmd *cobra.Command) {
		path := strings.Fields(cmd.CommandPath())[1:]
		t.Run(strings.Join(append([]string{"alice"}, path...), " "), func(t *testing.T) {
			code, stdout, stderr := runCLI(nil, "", append(path, "--help")...)
			if code != 0 || !strings.Contains(stdout, "Usage:") || stderr != "" {
				t.Fatalf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
			}
		})
		for _, sub := range cmd.Commands() {
			if !sub.Hidden && sub.Name() != "help" {
				walk(sub)
			}
		}
	}
	walk(newRoot(cli{}))
}

// aliceBin is the real binary, built once for the package by TestMain and
// only read afterwards.
var aliceBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "alice-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	aliceBin = filepath.Join(dir, "alice")
	if out, err := exec.Command("go", "build", "-o", aliceBin, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "go build: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// writeConfig writes a config file (data under its own directory) into a
// fresh temp dir and returns its path.
func writeConfig(t *testing.T, yaml string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "alice.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// process is a running alice binary.
type process struct {
	cmd  *exec.Cmd
	base string
}

func startAlice(t *testing.T, configPath string) *process {
	t.Helper()
	return startAliceCmd(t, exec.Command(aliceBin, "serve", "--config", configPath), os.Stderr)
}

// startAliceCmd starts cmd, an alice serve, with its standard error to
// stderr, and reads the address it serves on.
func startAliceCmd(t *testing.T, cmd *exec.Cmd, stderr io.Writer) *process {
	t.Helper()
	cmd.Stderr = stderr
	// The first line names the bound address (the config asks for port 0).
	base, err := serveproc.Start(cmd)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return &process{cmd: cmd, base: base}
}

func (p *process) request(t *testing.T, method, path, body, conv string) (int, map[string]any) {
	t.Helper()
	return p.requestAs(t, method, path, body, map[string]string{"X-Alice-Receive-Id-Type": "chat_id", "X-Alice-Receive-Id": conv})
}

// requestAs sends a request with the test token and the given headers.
func (p *process) requestAs(t *testing.T, method, path, body string, headers map[string]string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, p.base+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer durable-test-token-123")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	var v map[string]any
	if resp.StatusCode != http.StatusNoContent {
		json.NewDecoder(resp.Body).Decode(&v)
	}
	return resp.StatusCode, v
}

// checkStore runs alice check on the stopped server's store: every index
// entry must have its record and every record its entries.
func checkStore(t *testing.T, cfg string) {
	t.Helper()
	if code, out, errOut := runCLI(nil, "", "check", "--config", cfg); code != 0 {
		t.Fatalf("alice check after the kill: %d\n%s%s", code, out, errOut)
	}
}

// TestKill9AfterAnswerLosesNothing acknowledges writes, kills the process
// with SIGKILL straight after the last answer, and expects a restarted
// process to find exactly what was acknowledged.
func TestKill9AfterAnswerLosesNothing(t *testing.T) {
	cfg := writeConfig(t, "data_dir: data\nbots:\n  main:\n    runtime_http_addr: 127.0.0.1:0\n    runtime_http_token: durable-test-token-123\n    rate_limit_per_minute: 0\n")
	p := startAlice(t, cfg)
	want := map[string]string{} // conversation → acknowledged status
	for i := 0; i < 20; i++ {
		conv := fmt.Sprintf("oc_%d", i)
		if code, _ := p.request(t, "POST", "/api/v1/goal", `{"description":"durable"}`, conv); code != 201 {
			t.Fatalf("create in %s: %d", conv, code)
		}
		want[conv] = "in_progress"
		if i%2 == 0 {
			if code, _ := p.request(t, "POST", "/api/v1/goal/pause", "", conv); code != 200 {
				t.Fatalf("pause in %s: %d", conv, code)
			}
			want[conv] = "paused"
		}
	}
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	p.cmd.Wait()
	checkStore(t, cfg)

	p = startAlice(t, cfg)
	deadline := time.Now().Add(10 * time.Second)
	for conv, status := range want {
		code, g := p.request(t, "GET", "/api/v1/goal", "", conv)
		if code != 200 || g["status"] != status {
			t.Fatalf("%s after kill -9: %d %v, want status %s", conv, code, g, status)
		}
		if time.Now().After(deadline) {
			t.Fatal("reads after restart took too long")
		}
	}
}

// TestSigtermShutsDownCleanly checks the contract's graceful shutdown: exit
// code 0 after SIGTERM.
func TestSigtermShutsDownCleanly(t *testing.T) {
	cfg := writeConfig(t, "data_dir: data\nbots:\n  main:\n    runtime_http_addr: 127.0.0.1:0\n    runtime_http_token: durable-test-token-123\n")
	p := startAlice(t, cfg)
	if code, _ := p.request(t, "POST", "/api/v1/goal", `{"description":"x"}`, "oc_1"); code != 201 {
		t.Fatalf("create: %d", code)
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	if err := p.cmd.Wait(); err != nil {
		t.Fatalf("alice exited with %v after SIGTERM, want 0", err)
	}
}

// TestExampleConfigServesWithoutSecrets: the example configuration, with
// its ports made free ones, starts and answers with none of its secrets
// set, and alice token reads it too.
func TestExampleConfigServesWithoutSecrets(t *testing.T) {
	example, err := os.ReadFile(filepath.Join("..", "..", "testdata", "alice.example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	text := regexp.MustCompile(`127\.0\.0\.1:\d+`).ReplaceAllString(string(example), "127.0.0.1:0")
	cfg := writeConfig(t, text)
	cmd := exec.Command(aliceBin, "serve", "--config", cfg)
	cmd.Env = withoutVars(os.Environ(), "ALICE_EXAMPLE_FEISHU_SECRET", "ALICE_EXAMPLE_OPENAI_KEY")
	p := startAliceCmd(t, cmd, os.Stderr)
	resp, err := http.Get(p.base + "/healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("healthz: %v %v", resp, err)
	}
	resp.Body.Close()
	code, out, errOut := runCLI(map[string]string{"ALICE_EXAMPLE_FEISHU_SECRET": "", "ALICE_EXAMPLE_OPENAI_KEY": ""}, "", "token", "--config", cfg, "--bot", "main")
	if code != 0 || len(strings.TrimSpace(out)) < 43 {
		t.Fatalf("alice token: %d %q %q", code, out, errOut)
	}
}

func withoutVars(env []string, names ...string) []string {
	var out []string
	for _, kv := range env {
		keep := true
		for _, n := range names {
			if strings.HasPrefix(kv, n+"=") {
				keep = false
			}
		}
		if keep {
			out = append(out, kv)
		}
	}
	return out
}
