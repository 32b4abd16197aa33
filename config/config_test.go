package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseDefaults(t *testing.T) {
	t.Setenv("ALICE_HOME", "")
	c, err := Parse([]byte("bots:\n  zeta: {}\n  alpha: {}\n  mid: {}\n"), "/etc/alice")
	if err != nil {
		t.Fatal(err)
	}
	wantAddrs := []string{"alpha 127.0.0.1:7331", "mid 127.0.0.1:7332", "zeta 127.0.0.1:7333"}
	for i, b := range c.Bots {
		if got := b.ID + " " + b.Addr; got != wantAddrs[i] {
			t.Errorf("bot %d = %s, want %s", i, got, wantAddrs[i])
		}
		if b.RateLimitPerMinute != 120 || !b.Permissions.RuntimeMessage || !b.Permissions.RuntimeAutomation || b.CatchUpWindow != time.Hour {
			t.Errorf("bot %s defaults = %+v", b.ID, b)
		}
	}
	if c.DataDir != "alice-data" {
		t.Errorf("data dir = %q, want alice-data", c.DataDir)
	}
	if c.MemoryLimit != DefaultMemoryLimit {
		t.Errorf("memory limit = %d, want the default %d", c.MemoryLimit, DefaultMemoryLimit)
	}
}

func TestParseMemoryLimit(t *testing.T) {
	tests := []struct {
		yaml string
		want uint64
	}{
		{"memory_limit: 2GiB", 2 << 30},
		{"memory_limit: 512MB", 512_000_000},
		{"memory_limit: off", 0},
	}
	for _, tt := range tests {
		c, err := Parse([]byte(tt.yaml), "/etc/alice")
		if err != nil {
			t.Errorf("%s: %v", tt.yaml, err)
			continue
		}
		if c.MemoryLimit != tt.want {
			t.Errorf("%s: memory limit = %d, want %d", tt.yaml, c.MemoryLimit, tt.want)
		}
	}
}

func TestDefaultConfig(t *testing.T) {
	t.Setenv("ALICE_HOME", "/tmp/alice-home")
	c := Default()
	if len(c.Bots) != 1 || c.Bots[0].ID != "default" || c.Bots[0].Addr != "127.0.0.1:7331" {
		t.Fatalf("default bots = %+v", c.Bots)
	}
	if c.DataDir != "/tmp/alice-home/runtime" {
		t.Fatalf("data dir = %q, want $ALICE_HOME/runtime", c.DataDir)
	}
}

func TestParseFullExample(t *testing.T) {
	t.Setenv("FEISHU_SECRET", "s3cret")
	c, err := Parse([]byte(`
data_dir: ./data
timezone: Asia/Shanghai
bots:
  main:
    runtime_http_addr: 127.0.0.1:9000
    runtime_http_token: "0123456789abcdef0123"
    rate_limit_per_minute: 0
    permissions:
      runtime_message: false
      runtime_automation: true
    catch_up_window: 30m
    feishu:
      app_id: cli_xxx
      app_secret_env: FEISHU_SECRET
    max_consecutive_failures: 0
    llm:
      command: ["my-agent", "--print"]
      workdir: .
      env: {MODEL: fast, A_FLAG: "1"}
      inherit_env: [PATH]
      timeout: 2m
      retries: 0
      max_concurrency: 2
    workflows:
      daily_digest:
        steps:
          - run_llm: "Summarise today's activity for {{.Input}}"
            name: summary
          - send_text: "{{.Previous}}"
          - send_text: "{{.Steps.summary}} / {{index .Steps \"1\"}}"
`), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	b := c.Bots[0]
	if filepath.Base(c.DataDir) != "data" || !filepath.IsAbs(c.DataDir) || c.Location.String() != "Asia/Shanghai" {
		t.Errorf("data dir %q zone %s", c.DataDir, c.Location)
	}
	if b.RateLimitPerMinute != 0 || b.Permissions.RuntimeMessage || b.CatchUpWindow != 30*time.Minute || b.Location.String() != "Asia/Shanghai" {
		t.Errorf("bot = %+v", b)
	}
	if b.Feishu == nil || b.Feishu.AppSecretEnv != "FEISHU_SECRET" || b.Feishu.BaseURL != DefaultFeishuBaseURL {
		t.Errorf("feishu = %+v", b.Feishu)
	}
	if b.LLM == nil || b.LLM.Timeout != 2*time.Minute || len(b.Workflows["daily_digest"].Steps) != 3 {
		t.Errorf("llm = %+v workflows = %+v", b.LLM, b.Workflows)
	}
	if l := b.LLM; !filepath.IsAbs(l.Workdir) || strings.Join(l.Env, " ") != "A_FLAG=1 MODEL=fast" || strings.Join(l.InheritEnv, " ") != "PATH" ||
		l.Retries != 0 || l.MaxConcurrency != 2 || b.MaxConsecutiveFailures != 0 {
		t.Errorf("llm = %+v, max_consecutive_failures %d", l, b.MaxConsecutiveFailures)
	}
	if s := b.Workflows["daily_digest"].Steps; s[0].Name != "summary" || s[0].Kind() != "run_llm" || s[2].Kind() != "send_text" {
		t.Errorf("steps = %+v", s)
	}
}

func TestParseRefusesNamingTheKey(t *testing.T) {
	t.Setenv("EMPTY_SECRET", "")
	tests := []struct{ name, yaml, want string }{
		{"unknown top-level key", "colour: blue", "field colour not found"},
		{"unknown bot key", "bots: {main: {colour: blue}}", "field colour not found"},
		{"bad YAML", "bots: [", "invalid YAML"},
		{"memory limit not a size", "memory_limit: lots", `memory_limit: "lots"`},
		{"memory limit too small", "memory_limit: 1MB", "at least 64MiB"},
		{"bad bot id", "bots: {Main: {}}", `bot id "Main"`},
		{"bad zone", "timezone: Mars/Olympus", "timezone"},
		{"bad bot zone", "bots: {main: {timezone: Nowhere}}", "bots.main.timezone"},
		{"remote address", "bots: {main: {runtime_http_addr: '0.0.0.0:7331'}}", "bots.main.runtime_http_addr"},
		{"not host:port", "bots: {main: {runtime_http_addr: 'localhost'}}", "bots.main.runtime_http_addr"},
		{"bad port", "bots: {main: {runtime_http_addr: '127.0.0.1:99999'}}", "invalid port"},
		{"shared address", "bots: {a: {runtime_http_addr: '127.0.0.1:8000'}, b: {runtime_http_addr: '127.0.0.1:8000'}}", "bots.b.runtime_http_addr: 127.0.0.1:8000 is already used by bot a"},
		{"shared token", "bots: {a: {runtime_http_token: 'aaaaaaaaaaaaaaaa'}, b: {runtime_http_token: 'aaaaaaaaaaaaaaaa'}}", "bots.b.runtime_http_token"},
		{"short token", "bots: {a: {runtime_http_token: 'short'}}", "bots.a.runtime_http_token: must be at least 16"},
		{"negative rate", "bots: {a: {rate_limit_per_minute: -1}}", "bots.a.rate_limit_per_minute"},
		{"rate not a number", "bots:\n  a:\n    rate_limit_per_minute: lots\n", "line 3 (bots.a.rate_limit_per_minute): cannot unmarshal"},
		{"negative catch-up", "bots: {a: {catch_up_window: -1h}}", "bots.a.catch_up_window"},
		{"feishu without app id", "bots: {a: {feishu: {app_secret: x}}}", "bots.a.feishu.app_id"},
		{"feishu without secret", "bots: {a: {feishu: {app_id: x}}}", "bots.a.feishu.app_secret"},
		{"feishu secret env not a name", "bots: {a: {feishu: {app_id: x, app_secret_env: 'A-B'}}}", "bots.a.feishu.app_secret_env"},
		{"feishu bad url", "bots: {a: {feishu: {app_id: x, app_secret: y, base_url: 'ftp://x'}}}", "bots.a.feishu.base_url"},
		{"llm with both", "bots: {a: {llm: {command: [x], openai: {base_url: 'http://x', model: m}}}}", "bots.a.llm"},
		{"llm with neither", "bots: {a: {llm: {timeout: 1m}}}", "bots.a.llm"},
		{"llm bad timeout", "bots: {a: {llm: {command: [x], timeout: 0s}}}", "bots.a.llm.timeout"},
		{"workflow without steps", "bots: {a: {workflows: {w: {steps: []}}}}", "bots.a.workflows.w.steps"},
		{"workflow unknown step", "bots: {a: {workflows: {w: {steps: [{shout: hi}]}}}}", `unknown key "shout"`},
		{"workflow step with two kinds", "bots: {a: {workflows: {w: {steps: [{send_text: hi, name: x, run_llm: hi}]}}}}", "bots.a.workflows.w.steps[0]"},
		{"workflow step with only a name", "bots: {a: {workflows: {w: {steps: [{name: x}]}}}}", "exactly one of run_llm or send_text"},
		{"workflow step name not an identifier", "bots: {a: {workflows: {w: {steps: [{name: 'my-step', send_text: hi}]}}}}", "bots.a.workflows.w.steps[0].name"},
		{"workflow step names repeat", "bots: {a: {workflows: {w: {steps: [{name: s, send_text: hi}, {name: s, send_text: hi}]}}}}", `steps[1].name: "s" names an earlier step`},
		{"workflow step reads a later step", "bots: {a: {workflows: {w: {steps: [{send_text: '{{.Steps.later}}'}, {name: later, send_text: hi}]}}}}", "bots.a.workflows.w.steps[0]"},
		{"workflow step reads an unknown field", "bots: {a: {workflows: {w: {steps: [{send_text: '{{.Output}}'}]}}}}", "bots.a.workflows.w.steps[0]"},
		{"llm retries", "bots: {a: {llm: {command: [x], retries: 11}}}", "bots.a.llm.retries"},
		{"llm concurrency", "bots: {a: {llm: {command: [x], max_concurrency: 0}}}", "bots.a.llm.max_concurrency"},
		{"llm env name", "bots: {a: {llm: {command: [x], env: {'A B': x}}}}", "bots.a.llm.env"},
		{"llm inherit name", "bots: {a: {llm: {command: [x], inherit_env: ['PATH=x']}}}", "bots.a.llm.inherit_env"},
		{"llm workdir missing", "bots: {a: {llm: {command: [x], workdir: /no/such/dir}}}", "bots.a.llm.workdir: /no/such/dir is not a directory"},
		{"llm openai with env", "bots: {a: {llm: {openai: {base_url: 'http://x', model: m}, env: {A: b}}}}", "bots.a.llm: workdir, env and inherit_env are for a command"},
		{"llm openai key variable", "bots: {a: {llm: {openai: {base_url: 'http://x', model: m, api_key_env: 'not a name'}}}}", "bots.a.llm.openai.api_key_env"},
		{"failures", "bots: {a: {max_consecutive_failures: -1}}", "bots.a.max_consecutive_failures"},
		{"socket path too long", "bots: {a: {runtime_socket: /" + strings.Repeat("s", 120) + "}}", "bots.a.runtime_socket"},
		{"shared socket", "bots: {a: {runtime_socket: /tmp/x.sock}, b: {runtime_socket: /tmp/x.sock}}", "bots.b.runtime_socket: /tmp/x.sock is already used by bot a"},
		{"goal loop without llm", "bots: {a: {goal: {loop: true}}}", "bots.a.goal.loop: the goal loop runs the bot's agent"},
		{"goal deadline", "bots: {a: {goal: {default_deadline: -1h}}}", "bots.a.goal.default_deadline"},
		{"goal prompt syntax", "bots: {a: {llm: {command: [x]}, goal: {prompt: '{{.Objective'}}}", "bots.a.goal.prompt"},
		{"goal prompt field", "bots: {a: {llm: {command: [x]}, goal: {prompt: '{{.Aim}}'}}}", "bots.a.goal.prompt"},
		{"goal prompt needs a deadline", "bots: {a: {llm: {command: [x]}, goal: {prompt: '{{.Deadline.Format \"15:04\"}}'}}}", "guard it with {{if .Deadline}}"},
		{"workflow bad template", "bots: {a: {workflows: {w: {steps: [{send_text: '{{.Input'}]}}}}", "bots.a.workflows.w.steps[0].send_text"},
		{"outbox keeps nothing", "bots: {a: {outbox: {max_messages: 0}}}", "bots.a.outbox.max_messages"},
		{"outbox negative age", "bots: {a: {outbox: {max_age: -1h}}}", "bots.a.outbox.max_age"},
		{"workflow llm step without llm", "bots: {a: {workflows: {w: {steps: [{run_llm: hi}]}}}}", "the bot has no llm configured"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.yaml), "")
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Parse error = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestRemoteAllowedWhenAsked(t *testing.T) {
	c, err := Parse([]byte("bots: {main: {runtime_http_addr: '0.0.0.0:7331', runtime_http_allow_remote: true}}"), "")
	if err != nil || c.Bots[0].Addr != "0.0.0.0:7331" {
		t.Fatalf("Parse = %+v, %v", c, err)
	}
}

func TestLoadOrCreateTokenIsStableAndPrivate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "bots", "main")
	first, err := LoadOrCreateToken(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(first) < 43 { // 32 bytes in unpadded base64
		t.Fatalf("token %q is shorter than 32 random bytes", first)
	}
	info, err := os.Stat(filepath.Join(dir, "token"))
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Fatalf("token file mode = %04o, want 0600", info.Mode().Perm())
	}
	again, err := LoadOrCreateToken(dir)
	if err != nil || again != first {
		t.Fatalf("second call = %q, %v; want the stored %q", again, err, first)
	}
	other, _ := LoadOrCreateToken(filepath.Join(t.TempDir(), "x"))
	if other == first {
		t.Fatal("two data dirs generated the same token")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("token dir holds %d files, want only the token (no temp files left)", len(entries))
	}
}

func TestTokenFileReadableByOthersIsRefused(t *testing.T) {
	dir := t.TempDir()
	if _, err := LoadOrCreateToken(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(dir, "token"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreateToken(dir); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("err = %v, want advice to chmod 600", err)
	}
}

func TestConfiguredTokenWins(t *testing.T) {
	c, err := Parse([]byte("data_dir: "+t.TempDir()+"\nbots: {main: {runtime_http_token: 'configured-token-123'}}"), "")
	if err != nil {
		t.Fatal(err)
	}
	if tok, err := c.Token(c.Bots[0]); err != nil || tok != "configured-token-123" {
		t.Fatalf("Token = %q, %v", tok, err)
	}
	if _, err := os.Stat(filepath.Join(c.BotDir("main"), "token")); !os.IsNotExist(err) {
		t.Fatalf("a token file was written although one is configured: %v", err)
	}
}

// TestExampleConfigParsesWithoutSecrets: the secrets' variables are read
// when they are used, so the example loads with none of them set.
func TestExampleConfigParsesWithoutSecrets(t *testing.T) {
	for _, v := range []string{"ALICE_EXAMPLE_FEISHU_SECRET", "ALICE_EXAMPLE_OPENAI_KEY"} {
		t.Setenv(v, "") // restored after the test
		os.Unsetenv(v)
	}
	c, err := Load(filepath.Join("..", "testdata", "alice.example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Bots) != 2 || c.Bots[0].ID != "feishu-bot" || c.Bots[0].Addr != "127.0.0.1:7332" || c.Bots[1].Addr != "127.0.0.1:7331" || c.Bots[0].Feishu == nil || c.Bots[1].LLM == nil {
		t.Fatalf("bots = %+v", c.Bots)
	}
}

func TestAgentDefaults(t *testing.T) {
	c, err := Parse([]byte("bots: {a: {llm: {command: [agent]}}}"), "")
	if err != nil {
		t.Fatal(err)
	}
	b := c.Bots[0]
	if l := b.LLM; l.Retries != DefaultLLMRetries || l.MaxConcurrency != DefaultAgents || l.Timeout != DefaultLLMTimeout ||
		l.InheritEnv != nil || l.Workdir != "" || b.MaxConsecutiveFailures != DefaultMaxFailures || !b.Goal.Loop {
		t.Fatalf("bot = %+v, llm = %+v", b, l)
	}
}

func TestGoalPrompt(t *testing.T) {
	c, err := Parse([]byte(`bots: {a: {llm: {command: [x]}, goal: {default_deadline: 48h, prompt: "Turn {{.Iteration}}: {{.Objective}}{{if .Deadline}} by {{.Deadline.Format \"2006-01-02\"}}{{end}}"}}}`), "")
	if err != nil {
		t.Fatal(err)
	}
	g := c.Bots[0].Goal
	var sb strings.Builder
	deadline := time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)
	if err := g.Prompt.Execute(&sb, GoalPromptData{Objective: "ship", Iteration: 3, Deadline: &deadline}); err != nil {
		t.Fatal(err)
	}
	if !g.Loop || g.DefaultDeadline != 48*time.Hour || sb.String() != "Turn 3: ship by 2026-01-02" {
		t.Fatalf("goal = %+v, prompt renders %q", g, sb.String())
	}
}

func TestSocketListeners(t *testing.T) {
	c, err := Parse([]byte(`bots:
  a: {runtime_socket: run/a.sock}
  b: {runtime_socket: /tmp/b.sock, runtime_http_addr: "127.0.0.1:9100"}
  c: {}
`), "/srv/alice")
	if err != nil {
		t.Fatal(err)
	}
	a, b, cc := c.Bots[0], c.Bots[1], c.Bots[2]
	if a.Socket != "/srv/alice/run/a.sock" || a.Addr != "" {
		t.Errorf("socket alone: %+v", a)
	}
	if b.Socket != "/tmp/b.sock" || b.Addr != "127.0.0.1:9100" {
		t.Errorf("socket and TCP: %+v", b)
	}
	if cc.Socket != "" || cc.Addr != "127.0.0.1:7333" {
		t.Errorf("TCP alone: %+v", cc)
	}
}

// FuzzParse: any configuration text is refused with an error or gives a
// configuration with at least one bot, each with an address or a socket;
// nothing panics.
func FuzzParse(f *testing.F) {
	example, err := os.ReadFile(filepath.Join("..", "testdata", "alice.example.yaml"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(string(example))
	for _, s := range []string{"", "bots: {a: {}}", "bots: {a: {llm: {command: [x], retries: 3}, goal: {prompt: '{{.Objective}}'}}}",
		"bots: {a: {workflows: {w: {steps: [{run_llm: x}, {send_text: '{{.Steps.s}}'}]}}}}", "timezone: Asia/Shanghai\nmin_free_disk: 1GiB",
		"bots: {a: {runtime_socket: a.sock, feishu: {app_id: x, app_secret: y}}}"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		c, err := Parse([]byte(text), "/srv/alice")
		if err != nil {
			if err.Error() == "" {
				t.Fatal("an empty error")
			}
			return
		}
		if len(c.Bots) == 0 {
			t.Fatal("a configuration without bots")
		}
		for _, b := range c.Bots {
			if b.Addr == "" && b.Socket == "" {
				t.Fatalf("bot %s listens nowhere", b.ID)
			}
		}
	})
}
