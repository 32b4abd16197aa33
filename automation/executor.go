// Package automation runs the LLM tasks and workflows of the actor runtime:
// it asks the bot's LLM backend or runs a workflow's steps, and delivers
// what they produce through the sender the runtime gives it.
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
)

// Bot is what one bot's LLM tasks and workflows run with.
type Bot struct {
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

// Execute runs one occurrence and delivers what it produces through send,
// which gives each message of the occurrence its own dedupe key (by step),
// so an occurrence run again after a crash does not deliver twice where the
// messenger honours the key.
func (e *Executor) Execute(ctx context.Context, botID string, task alice.Task, occ alice.Occurrence, send actors.Sender) (string, error) {
	bot, ok := e.bots[botID]
	if !ok {
		return "", fmt.Errorf("bot %s is not configured", botID)
	}
	text := func(t, step string) (string, error) {
		return send(ctx, alice.Outgoing{Kind: alice.KindText, Text: t}, step)
	}
	switch task.Action {
	case alice.ActionSendText:
		return text(task.Text, "")
	case alice.ActionRunLLM:
		reply, err := bot.complete(ctx, task.Prompt)
		if err != nil {
			return "", err
		}
		return text(reply, "")
	case alice.ActionRunWorkflow:
		return bot.runWorkflow(ctx, task, text)
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
func (b Bot) runWorkflow(ctx context.Context, task alice.Task, send func(text, step string) (string, error)) (string, error) {
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
		if lastID, err = send(text, fmt.Sprint(i)); err != nil {
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
