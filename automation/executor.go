// Package automation runs task occurrences for the actor runtime: it turns
// a task into messages through the bot's messenger, asking the bot's LLM
// backend or running a workflow's steps where the action says so.
package automation

import (
	"context"
	"fmt"
	"strings"
	"text/template"

	"github.com/alice-runtime/alice"
	"github.com/alice-runtime/alice/actors"
	"github.com/alice-runtime/alice/config"
	"github.com/alice-runtime/alice/llm"
	"github.com/alice-runtime/alice/messenger"
)

// Bot is what one bot's tasks run with.
type Bot struct {
	Messenger messenger.Messenger
	LLM       llm.Backend // nil: run_llm and LLM steps fail
	Workflows map[string]config.Workflow
}

// Executor implements actors.Executor for a set of bots.
type Executor struct {
	bots map[string]Bot
}

var _ actors.Executor = (*Executor)(nil)

// New returns an executor for the bots, by id.
func New(bots map[string]Bot) *Executor { return &Executor{bots: bots} }

// Execute runs one occurrence. Every message it sends carries the
// occurrence id (with the step for workflows) as its idempotency key, so an
// occurrence resumed after a crash does not deliver twice where the
// messenger honours the key.
func (e *Executor) Execute(ctx context.Context, botID string, task alice.Task, occ alice.Occurrence) (string, error) {
	bot, ok := e.bots[botID]
	if !ok {
		return "", fmt.Errorf("bot %s is not configured", botID)
	}
	to := messenger.TargetOf(task.Scope())
	send := func(text, key string) (string, error) {
		return bot.Messenger.Send(ctx, to, messenger.Message{Kind: messenger.KindText, Text: text, IdempotencyKey: key})
	}
	switch task.Action {
	case alice.ActionSendText:
		return send(task.Text, occ.ID)
	case alice.ActionRunLLM:
		reply, err := bot.complete(ctx, task.Prompt)
		if err != nil {
			return "", err
		}
		return send(reply, occ.ID)
	case alice.ActionRunWorkflow:
		return bot.runWorkflow(ctx, task, occ, send)
	default:
		return "", fmt.Errorf("unknown action %q", task.Action)
	}
}

func (b Bot) complete(ctx context.Context, prompt string) (string, error) {
	if b.LLM == nil {
		return "", fmt.Errorf("the bot has no LLM backend configured")
	}
	return b.LLM.Complete(ctx, prompt)
}

// runWorkflow runs the steps in order; each step's template sees the task's
// prompt as {{.Input}} and the previous step's output (the LLM's reply, or
// the text sent) as {{.Previous}}. It returns the last message's id.
func (b Bot) runWorkflow(ctx context.Context, task alice.Task, occ alice.Occurrence, send func(text, key string) (string, error)) (string, error) {
	wf, ok := b.Workflows[task.Workflow]
	if !ok {
		return "", fmt.Errorf("workflow %q is no longer configured", task.Workflow)
	}
	data := struct{ Input, Previous string }{Input: task.Prompt}
	var lastID string
	for i, step := range wf.Steps {
		tmpl, kind := step.SendText, "send_text"
		if step.RunLLM != nil {
			tmpl, kind = step.RunLLM, "run_llm"
		}
		text, err := render(tmpl, data)
		if err != nil {
			return lastID, fmt.Errorf("workflow %s step %d (%s): %w", task.Workflow, i+1, kind, err)
		}
		if step.RunLLM != nil {
			if data.Previous, err = b.complete(ctx, text); err != nil {
				return lastID, fmt.Errorf("workflow %s step %d (run_llm): %w", task.Workflow, i+1, err)
			}
			continue
		}
		if lastID, err = send(text, fmt.Sprintf("%s/%d", occ.ID, i)); err != nil {
			return lastID, fmt.Errorf("workflow %s step %d (send_text): %w", task.Workflow, i+1, err)
		}
		data.Previous = text
	}
	return lastID, nil
}

func render(t *template.Template, data any) (string, error) {
	var sb strings.Builder
	if err := t.Execute(&sb, data); err != nil {
		return "", err
	}
	if strings.TrimSpace(sb.String()) == "" {
		return "", fmt.Errorf("the step rendered to nothing")
	}
	return sb.String(), nil
}
