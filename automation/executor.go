// Package automation runs the LLM tasks and workflows of the actor runtime:
// it asks the bot's agent, retrying what may pass, or runs a workflow's
// steps, and delivers what they produce through the sender the runtime
// gives it.
package automation

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"text/template"
	"time"

	"github.com/alice-runtime/alice"
	"github.com/alice-runtime/alice/actors"
	"github.com/alice-runtime/alice/config"
	"github.com/alice-runtime/alice/llm"
	"github.com/alice-runtime/alice/wire"
)

// Bot is what one bot's LLM tasks and workflows run with.
type Bot struct {
	LLM       llm.Backend // nil: run_llm and LLM steps fail
	Retries   int         // further attempts of a call that failed in a way that may pass
	Workflows map[string]config.Workflow
	// Env is what every agent of the bot is told about the runtime, as
	// NAME=value: the API's base URL and token and this executable, so the
	// agent's own skills can call back.
	Env []string
	// GoalPrompt renders a goal loop turn's prompt from
	// config.GoalPromptData; nil uses DefaultGoalPrompt.
	GoalPrompt *template.Template
}

// Config configures an Executor.
type Config struct {
	Bots  map[string]Bot // by bot id
	Clock alice.Clock    // times the attempts; default the system clock
	// Sleep waits d or until ctx ends; default a timer.
	Sleep func(ctx context.Context, d time.Duration) error
	// Backoff is the wait before the n-th retry (1 for the first); default
	// Backoff.
	Backoff func(n int) time.Duration
}

// Executor implements actors.Executor for a set of bots.
type Executor struct {
	cfg Config
}

var _ actors.Executor = (*Executor)(nil)

// New returns an executor for the configured bots.
func New(cfg Config) *Executor {
	if cfg.Clock == nil {
		cfg.Clock = alice.SystemClock{}
	}
	if cfg.Sleep == nil {
		cfg.Sleep = sleep
	}
	if cfg.Backoff == nil {
		cfg.Backoff = Backoff
	}
	return &Executor{cfg: cfg}
}

// Backoff is exponential from 2s, doubling to at most a minute, with
// "equal jitter": a random wait between half and all of that, so agents that
// failed together do not retry together.
func Backoff(n int) time.Duration {
	d := min(2*time.Second<<min(n-1, 10), time.Minute)
	return d/2 + rand.N(d/2+1)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// maxAttemptError bounds each attempt's error in the run record; the
// occurrence's own error keeps more.
const maxAttemptError = 1 << 10

// Execute runs one occurrence and delivers what it produces through x.Send,
// which gives each message of the occurrence its own dedupe key (by step),
// so an occurrence run again after a crash does not deliver twice where the
// messenger honours the key.
func (e *Executor) Execute(ctx context.Context, x actors.Execution) (actors.Report, error) {
	bot, ok := e.cfg.Bots[x.Bot]
	if !ok {
		return actors.Report{}, fmt.Errorf("bot %s is not configured", x.Bot)
	}
	r := &run{e: e, bot: bot, x: x, send: x.Send, conv: x.Conversation,
		env: []string{"ALICE_TASK_ID=" + x.Task.ID, "ALICE_OCCURRENCE_ID=" + x.Occurrence.ID}}
	err := r.execute(ctx)
	return r.report, err
}

// Iterate runs one turn of the goal loop: the agent gets the rendered goal
// prompt and the conversation's environment, and its reply goes to the
// conversation.
func (e *Executor) Iterate(ctx context.Context, x actors.GoalIteration) (actors.Report, error) {
	bot, ok := e.cfg.Bots[x.Bot]
	if !ok {
		return actors.Report{}, fmt.Errorf("bot %s is not configured", x.Bot)
	}
	prompt, err := goalPrompt(bot.GoalPrompt, x.Goal, x.Now)
	if err != nil {
		return actors.Report{}, err
	}
	r := &run{e: e, bot: bot, send: x.Send, conv: x.Conversation,
		env: []string{"ALICE_GOAL_ID=" + x.Goal.ID, "ALICE_GOAL_ITERATION=" + strconv.Itoa(x.Goal.Iterations+1)}}
	reply, err := r.complete(ctx, prompt)
	if err == nil {
		err = r.deliver(ctx, reply, "")
	}
	return r.report, err
}

// run is one execution in progress.
type run struct {
	e      *Executor
	bot    Bot
	x      actors.Execution // a task's occurrence; zero for a goal turn
	send   actors.Sender
	conv   alice.Conversation
	env    []string // what the agent is told about its job
	report actors.Report
}

func (r *run) execute(ctx context.Context) error {
	switch r.x.Task.Action {
	case alice.ActionSendText:
		return r.deliver(ctx, r.x.Task.Text, "")
	case alice.ActionRunLLM:
		reply, err := r.complete(ctx, r.x.Task.Prompt)
		if err != nil {
			return err
		}
		return r.deliver(ctx, reply, "")
	case alice.ActionRunWorkflow:
		return r.workflow(ctx)
	default:
		return fmt.Errorf("unknown action %q", r.x.Task.Action)
	}
}

func (r *run) deliver(ctx context.Context, text, step string) error {
	id, err := r.send(ctx, alice.Outgoing{Kind: alice.KindText, Text: text}, step)
	if err == nil {
		r.report.MessageID = id
	}
	return err
}

// complete asks the agent, retrying a failure that may pass with backoff,
// as long as the occurrence has time left for the wait, and logs every
// attempt.
func (r *run) complete(ctx context.Context, prompt string) (string, error) {
	if r.bot.LLM == nil {
		return "", fmt.Errorf("the bot has no LLM backend configured")
	}
	req := llm.Request{Prompt: prompt, Env: r.environ()}
	for n := 0; ; n++ {
		start := r.e.cfg.Clock.Now()
		reply, err := r.bot.LLM.Complete(ctx, req)
		a := alice.Attempt{StartedAt: start.UTC(), DurationMS: r.e.cfg.Clock.Now().Sub(start).Milliseconds()}
		if err != nil {
			a.Status, a.Error = llm.StatusOf(err), alice.Truncate(err.Error(), maxAttemptError)
		}
		r.report.Attempts = append(r.report.Attempts, a)
		if err == nil {
			return reply, nil
		}
		again, after := llm.Retryable(err)
		if !again || n >= r.bot.Retries || ctx.Err() != nil {
			return "", err
		}
		wait := max(r.e.cfg.Backoff(n+1), after)
		if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < wait {
			return "", fmt.Errorf("%w (no time left to wait %s for another attempt)", err, wait.Round(time.Second))
		}
		if r.e.cfg.Sleep(ctx, wait) != nil {
			return "", err
		}
	}
}

// environ tells the agent how to call the runtime back, which
// conversation it serves and which job it does.
func (r *run) environ() []string {
	env := append([]string(nil), r.bot.Env...)
	env = append(env, wire.ConversationEnv(r.conv)...)
	return append(env, r.env...)
}

// workflow runs the steps in order. Each step's template sees the task's
// prompt as .Input, the previous step's output (the agent's reply, or the
// text sent) as .Previous, and every earlier output in .Steps, by index and
// by name.
func (r *run) workflow(ctx context.Context) error {
	name := r.x.Task.Workflow
	wf, ok := r.bot.Workflows[name]
	if !ok {
		return fmt.Errorf("workflow %q is no longer configured", name)
	}
	data := config.StepData{Input: r.x.Task.Prompt, Steps: make(map[string]string, 2*len(wf.Steps))}
	for i, step := range wf.Steps {
		where := fmt.Sprintf("workflow %s step %d (%s)", name, i+1, step.Kind())
		if step.Name != "" {
			where = fmt.Sprintf("workflow %s step %d %q (%s)", name, i+1, step.Name, step.Kind())
		}
		text, err := render(step.Template(), data)
		if err != nil {
			return fmt.Errorf("%s: %w", where, err)
		}
		out := text
		if step.RunLLM != nil {
			if out, err = r.complete(ctx, text); err != nil {
				return fmt.Errorf("%s: %w", where, err)
			}
		} else if err := r.deliver(ctx, text, strconv.Itoa(i)); err != nil {
			return fmt.Errorf("%s: %w", where, err)
		}
		data.Previous = out
		data.Steps[strconv.Itoa(i)] = out
		if step.Name != "" {
			data.Steps[step.Name] = out
		}
	}
	return nil
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
