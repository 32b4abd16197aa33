package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/alice-runtime/alice"
	"github.com/alice-runtime/alice/client"
	"github.com/alice-runtime/alice/internal/testimages"
)

// Upstream Alice's skill scripts each end in
// exec "$ALICE_RUNTIME_BIN" runtime <group> "$@"; these do the same.
var skillScripts = map[string]string{
	"alice-goal.sh":    `exec "$ALICE_RUNTIME_BIN" runtime goal "$@"`,
	"alice-message.sh": `exec "$ALICE_RUNTIME_BIN" runtime message "$@"`,
	"alice-scheduler.sh": `if [ "${1:-}" = code-army-status ]; then shift; exec "$ALICE_RUNTIME_BIN" runtime workflow code-army-status "$@"; fi
exec "$ALICE_RUNTIME_BIN" runtime automation "$@"`,
}

// TestAliceSkillsCommandLines runs every command line documented in the
// SKILL.md files of alice-goal, alice-message and alice-scheduler, through
// wrappers like theirs, against the real binary, and checks each effect
// through the API.
func TestAliceSkillsCommandLines(t *testing.T) {
	cfg := writeConfig(t, `data_dir: data
bots:
  main:
    runtime_http_addr: 127.0.0.1:0
    runtime_http_token: durable-test-token-123
    llm:
      command: ["cat"]
    goal:
      loop: false
`)
	p := startAlice(t, cfg)
	dir := t.TempDir()
	scripts := filepath.Join(dir, "scripts")
	os.Mkdir(scripts, 0o755)
	for name, body := range skillScripts {
		if err := os.WriteFile(filepath.Join(scripts, name), []byte("#!/usr/bin/env bash\nset -euo pipefail\n"+body+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	abs := filepath.Join(dir, "abs", "path")
	os.MkdirAll(abs, 0o755)
	os.WriteFile(filepath.Join(abs, "image.png"), testimages.Samples(t)["png"], 0o644)
	os.WriteFile(filepath.Join(abs, "report.pdf"), []byte("%PDF-1.4 a report"), 0o644)

	env := append(os.Environ(),
		"ALICE_RUNTIME_BIN="+aliceBin,
		"ALICE_RUNTIME_API_BASE_URL="+p.base,
		"ALICE_RUNTIME_API_TOKEN=durable-test-token-123",
		"ALICE_RECEIVE_ID_TYPE=chat_id",
		"ALICE_RECEIVE_ID=oc_skills",
	)
	// sh runs one command line as a skill does, from the skill's directory,
	// with /abs/path standing for the temp dir's files.
	sh := func(line string) (string, string, error) {
		t.Helper()
		cmd := exec.Command("bash", "-c", strings.ReplaceAll(line, "/abs/path", abs))
		cmd.Dir, cmd.Env = dir, env
		var out, errOut strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &errOut
		err := cmd.Run()
		return out.String(), errOut.String(), err
	}
	ok := func(line string) string {
		t.Helper()
		out, errOut, err := sh(line)
		if err != nil {
			t.Fatalf("%s: %v\nstdout %s\nstderr %s", line, err, out, errOut)
		}
		return out
	}
	api, err := client.New(p.base, "durable-test-token-123", nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	conv := alice.Conversation{ReceiveIDType: alice.ReceiveChatID, ReceiveID: "oc_skills"}
	goal := func() *alice.Goal {
		t.Helper()
		g, err := api.GetGoal(ctx, conv)
		if err != nil {
			t.Fatal(err)
		}
		return g
	}

	// alice-goal
	ok(`scripts/alice-goal.sh get`)
	ok(`scripts/alice-goal.sh create '{"objective":"为项目补充单元测试","deadline_in":"48h"}'`)
	if g := goal(); g == nil || g.Description != "为项目补充单元测试" || g.DeadlineAt == nil || !g.DeadlineAt.Equal(g.CreatedAt.Add(48*60*60*1e9)) {
		t.Fatalf("goal after create = %+v", g)
	}
	ok(`scripts/alice-goal.sh delay 30m "等待 data-team 提供新的 CSV 文件"`)
	if g := goal(); g.DelayReason != "等待 data-team 提供新的 CSV 文件" || g.NextWakeAt == nil {
		t.Fatalf("goal after delay = %+v", g)
	}
	ok(`scripts/alice-goal.sh delay 0s "继续推进 auth 模块单元测试"`)
	ok(`scripts/alice-goal.sh pause`)
	if g := goal(); g.Status != alice.GoalPaused {
		t.Fatalf("goal after pause = %+v", g)
	}
	ok(`scripts/alice-goal.sh resume`)
	if g := goal(); g.Status != alice.GoalInProgress {
		t.Fatalf("goal after resume = %+v", g)
	}
	if out := ok(`scripts/alice-goal.sh complete`); !strings.Contains(out, `"completed"`) {
		t.Fatalf("complete printed %s", out)
	}
	if goal() != nil {
		t.Fatal("a completed goal is still active")
	}
	ok(`scripts/alice-goal.sh create '{"objective":"another"}'`)
	ok(`scripts/alice-goal.sh clear`)
	if goal() != nil {
		t.Fatal("a cleared goal is still active")
	}

	// alice-message
	ok(`scripts/alice-message.sh image --path /abs/path/image.png --caption '最新截图'`)
	ok(`scripts/alice-message.sh image --image-key img_v3_xxx`)
	ok(`scripts/alice-message.sh file --path /abs/path/report.pdf --file-name report.pdf --caption '请查收'`)
	ok(`scripts/alice-message.sh file --file-key file_v3_xxx`)
	items, _, err := api.ListMessages(ctx, conv, alice.Page{Limit: 10})
	if err != nil || len(items) != 5 {
		t.Fatalf("outbox = %+v, %v", items, err)
	}
	// The first is the runtime's notice of the positive delay.
	if notice := items[0]; notice.Kind != alice.KindText || notice.Text != "The goal continues in 30m: 等待 data-team 提供新的 CSV 文件" {
		t.Fatalf("delay notice = %+v", notice)
	}
	items = items[1:]
	if items[0].Kind != alice.KindImage || items[0].Caption != "最新截图" || items[1].Key != "img_v3_xxx" ||
		items[2].FileName != "report.pdf" || items[2].Caption != "请查收" || items[3].Key != "file_v3_xxx" || items[3].Kind != alice.KindFile {
		t.Fatalf("outbox = %+v", items)
	}

	// alice-scheduler
	if out := ok(`scripts/alice-scheduler.sh list`); strings.TrimSpace(out) != "[]" {
		t.Fatalf("list with no tasks printed %s", out)
	}
	created := ok(`scripts/alice-scheduler.sh create <<'JSON'
{ "title": "daily sync", "schedule": { "type": "cron", "cron_expr": "0 1 * * *" }, "action": { "type": "run_llm", "prompt": "总结今天的进展" } }
JSON`)
	id := field(t, created, "id")
	task, err := api.GetTask(ctx, id)
	if err != nil || task.Title != "daily sync" || task.Cron != "0 1 * * *" || task.Action != alice.ActionRunLLM || task.Prompt != "总结今天的进展" || task.ScopeID != "oc_skills" {
		t.Fatalf("created task = %+v, %v", task, err)
	}
	if out := ok(`scripts/alice-scheduler.sh list`); !strings.Contains(out, id) {
		t.Fatalf("list printed %s", out)
	}
	if out := ok(`scripts/alice-scheduler.sh get ` + id); field(t, out, "id") != id {
		t.Fatalf("get printed %s", out)
	}
	ok(`scripts/alice-scheduler.sh patch ` + id + ` '{"status":"paused"}'`)
	if task, _ := api.GetTask(ctx, id); task.Status != alice.TaskPaused {
		t.Fatalf("task after patch = %+v", task)
	}
	ok(`scripts/alice-scheduler.sh delete ` + id)
	if _, err := api.GetTask(ctx, id); alice.ErrorCode(err) != alice.ENotFound {
		t.Fatalf("task after delete: %v", err)
	}
	_, errOut, err := sh(`scripts/alice-scheduler.sh code-army-status rust-cli-calculator`)
	if err == nil || !strings.Contains(errOut, "does not have") {
		t.Fatalf("code-army-status: %v %q; want a clear refusal", err, errOut)
	}
}
