package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/alice-runtime/alice"
)

// newAutomationCmd is "alice runtime automation", also "alice task" (which
// adds runs and the update alias of patch).
func newAutomationCmd(c cli, name string) *cobra.Command {
	cmd := &cobra.Command{
		Use:   name,
		Short: "Manage the conversation's automation tasks: list, create, get, patch, delete",
		Long: `Manages the automation tasks of the conversation in the ALICE_* environment.

` + envHelp,
		Args: cobra.NoArgs,
	}
	var status string
	var limit int
	var setFields func() map[string]string // the create flags given
	list := &cobra.Command{
		Use: "list [--status S] [--limit N]", Short: "List the conversation's tasks", Args: cobra.NoArgs,
		RunE: runSkill(c, func(s *skill, _ []string) error {
			conv, err := s.conversation()
			if err != nil {
				return err
			}
			scope := conv.Scope()
			tasks, _, err := s.client.ListTasks(s.ctx, alice.TaskFilter{Status: alice.TaskStatus(status), ScopeType: scope.Type, ScopeID: scope.ID}, alice.Page{Limit: limit})
			if err != nil {
				return err
			}
			if tasks == nil {
				tasks = []alice.Task{}
			}
			return s.print(tasks)
		}),
	}
	list.Flags().StringVar(&status, "status", "", "only tasks in this `status`: active, paused, completed or cancelled")
	list.Flags().IntVar(&limit, "limit", 20, "at most this many (1-200)")

	create := &cobra.Command{
		Use:   "create [JSON | --text T | --prompt P ...]",
		Short: "Create a task in the conversation",
		Long: `Creates a task in the current conversation from JSON, given as the argument or
on standard input. Alice's skills' shapes are taken:

  {"title": "daily sync", "prompt": "Summarise today", "cron": "0 9 * * *"}
  {"prompt": "check the build", "every_seconds": 1800, "max_runs": 3}
  {"title": "daily sync", "schedule": {"type": "cron", "cron_expr": "0 1 * * *"},
   "action": {"type": "run_llm", "prompt": "Summarise today's progress"}}

and so are the API's own task fields (action, text, prompt, workflow, cron,
run_at, timezone, title, max_runs). Without an action, a task with a prompt
is run_llm. every_seconds N (at least 60) is cron "@every Ns". Fields of
upstream Alice this runtime does not have (manage_mode, provider, model,
...) are ignored with a warning on standard error.`,
		Args: cobra.MaximumNArgs(1),
		RunE: runSkill(c, func(s *skill, args []string) error {
			conv, err := s.conversation()
			if err != nil {
				return err
			}
			var body []byte
			if fields := setFields(); len(fields) > 0 && len(args) == 0 {
				body, _ = json.Marshal(fields)
			} else if body, err = s.body(args); err != nil {
				return err
			}
			in, ignored, err := taskInput(body, conv.Scope())
			if err != nil {
				return usageError{err}
			}
			for _, f := range ignored {
				fmt.Fprintf(s.c.stderr, "alice: warning: %s is not supported by this runtime; it was ignored\n", f)
			}
			task, err := s.client.CreateTask(s.ctx, alice.TaskCreate{Input: in, Origin: &conv})
			if err != nil {
				return err
			}
			return s.print(task)
		}),
	}
	// The fields of a task can also be given as flags, when no JSON is.
	fieldFlags := map[string]*string{}
	for _, f := range []struct{ name, field, usage string }{
		{"action", "action", "send_text, run_llm or run_workflow (default: from the fields given)"},
		{"text", "text", "`text` to send (send_text)"},
		{"prompt", "prompt", "the agent's `prompt` (run_llm), or a workflow's input"},
		{"workflow", "workflow", "the `name` of a workflow of the bot's config (run_workflow)"},
		{"cron", "cron", `cron ` + "`expression`" + `, e.g. "55 9 * * 1-5" or @daily`},
		{"run-at", "run_at", "RFC 3339 `time` of a one-shot run (default: now)"},
		{"timezone", "timezone", "IANA `zone` the schedule is read in"},
		{"title", "title", "a short `title`"},
	} {
		fieldFlags[f.field] = create.Flags().String(f.name, "", f.usage)
	}
	setFields = func() map[string]string {
		out := map[string]string{}
		for k, v := range fieldFlags {
			if *v != "" {
				out[k] = *v
			}
		}
		return out
	}
	get := &cobra.Command{
		Use: "get TASK_ID", Short: "Print one task", Args: cobra.ExactArgs(1),
		RunE: runSkill(c, func(s *skill, args []string) error {
			task, err := s.client.GetTask(s.ctx, args[0])
			if err != nil {
				return err
			}
			return s.print(task)
		}),
	}
	var contentType string
	patch := &cobra.Command{
		Use: "patch TASK_ID [JSON] [--content-type T]", Aliases: []string{"update"},
		Short: `Change a task with a JSON merge patch, e.g. '{"status":"paused"}'`,
		Args:  cobra.RangeArgs(1, 2),
		RunE: runSkill(c, func(s *skill, args []string) error {
			body, err := s.body(args[1:])
			if err != nil {
				return err
			}
			_, answer, err := s.client.Raw(s.ctx, "PATCH", "/api/v1/automation/tasks/"+url.PathEscape(args[0]), alice.Conversation{}, contentType, body)
			if err != nil {
				return err
			}
			return s.printRaw(answer)
		}),
	}
	patch.Flags().StringVar(&contentType, "content-type", "application/merge-patch+json", "the patch's `type`")
	del := &cobra.Command{
		Use: "delete TASK_ID", Short: "Delete a task; it never runs again", Args: cobra.ExactArgs(1),
		RunE: runSkill(c, func(s *skill, args []string) error {
			if err := s.client.DeleteTask(s.ctx, args[0]); err != nil {
				return err
			}
			return s.none("task deleted")
		}),
	}
	var runLimit, runOffset int
	runs := &cobra.Command{
		Use: "runs TASK_ID [--limit N] [--offset N]", Short: "List a task's recorded occurrences, oldest first", Args: cobra.ExactArgs(1),
		RunE: runSkill(c, func(s *skill, args []string) error {
			list, _, err := s.client.TaskRuns(s.ctx, args[0], alice.Page{Limit: runLimit, Offset: runOffset})
			if err != nil {
				return err
			}
			if list == nil {
				list = []alice.Run{}
			}
			return s.print(list)
		}),
	}
	runs.Flags().IntVar(&runLimit, "limit", 50, "at most this many (1-200)")
	runs.Flags().IntVar(&runOffset, "offset", 0, "skip this many")
	cmd.AddCommand(list, create, get, patch, del, runs)
	return cmd
}

// upstreamOnly are fields of upstream Alice's task requests that this
// runtime has no use for.
var upstreamOnly = map[string]bool{"manage_mode": true, "resume_session_key": true, "enabled": true, "next_run_at": true}

// upstreamActionOnly are upstream action fields this runtime has no use
// for: its agent is the bot's configured backend.
var upstreamActionOnly = map[string]bool{"model": true, "provider": true, "state_key": true, "resume_thread_id": true, "source_message_id": true}

// taskInput turns a skill's task JSON into a create request in scope. It
// returns the upstream fields it ignored.
func taskInput(body []byte, scope alice.Scope) (alice.TaskInput, []string, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		return alice.TaskInput{}, nil, fmt.Errorf("the task JSON is invalid: %v", err)
	}
	var ignored []string
	take := func(m map[string]json.RawMessage, name string, dst any) (bool, error) {
		v, ok := m[name]
		if !ok {
			return false, nil
		}
		delete(m, name)
		if err := json.Unmarshal(v, dst); err != nil {
			return false, fmt.Errorf("%s: %v", name, err)
		}
		return true, nil
	}
	for name := range raw {
		if upstreamOnly[name] {
			ignored = append(ignored, name)
			delete(raw, name)
		}
	}
	var everySeconds int
	hasEvery, err := take(raw, "every_seconds", &everySeconds)
	if err != nil {
		return alice.TaskInput{}, nil, err
	}
	var schedule struct {
		Type         string `json:"type"`
		EverySeconds int    `json:"every_seconds"`
		CronExpr     string `json:"cron_expr"`
	}
	hasSchedule, err := take(raw, "schedule", &schedule)
	if err != nil {
		return alice.TaskInput{}, nil, err
	}
	// "action" is the API's own string ("run_llm"), or upstream's object.
	var action map[string]json.RawMessage
	if v, ok := raw["action"]; ok && strings.HasPrefix(strings.TrimSpace(string(v)), "{") {
		if _, err := take(raw, "action", &action); err != nil {
			return alice.TaskInput{}, nil, err
		}
	}
	for name := range action {
		if upstreamActionOnly[name] {
			ignored = append(ignored, "action."+name)
			delete(action, name)
		}
	}
	// What remains of the top level must be this API's own fields.
	rest, _ := json.Marshal(raw)
	var in alice.TaskInput
	dec := json.NewDecoder(bytes.NewReader(rest))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		return alice.TaskInput{}, nil, fmt.Errorf("the task JSON has %v", strings.TrimPrefix(err.Error(), "json: "))
	}
	if len(action) > 0 {
		var a struct {
			Type     string `json:"type"`
			Prompt   string `json:"prompt"`
			Text     string `json:"text"`
			Workflow string `json:"workflow"`
		}
		b, _ := json.Marshal(action)
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&a); err != nil {
			return alice.TaskInput{}, nil, fmt.Errorf("action: %v", strings.TrimPrefix(err.Error(), "json: "))
		}
		for _, f := range []struct {
			dst *alice.Field[string]
			v   string
		}{{&in.Action, a.Type}, {&in.Prompt, a.Prompt}, {&in.Text, a.Text}, {&in.Workflow, a.Workflow}} {
			if f.v != "" {
				if f.dst.Set {
					return alice.TaskInput{}, nil, errors.New("a field is given both at the top level and in action")
				}
				*f.dst = alice.Value(f.v)
			}
		}
	}
	if hasSchedule {
		switch schedule.Type {
		case "interval":
			hasEvery, everySeconds = true, schedule.EverySeconds
		case "cron":
			if schedule.CronExpr == "" {
				return alice.TaskInput{}, nil, errors.New("schedule.cron_expr is required for a cron schedule")
			}
			if in.Cron.Set {
				return alice.TaskInput{}, nil, errors.New("give cron or schedule, not both")
			}
			in.Cron = alice.Value(schedule.CronExpr)
		default:
			return alice.TaskInput{}, nil, fmt.Errorf("schedule.type %q is not interval or cron", schedule.Type)
		}
	}
	if hasEvery {
		if everySeconds < 60 {
			return alice.TaskInput{}, nil, fmt.Errorf("every_seconds %d must be at least 60", everySeconds)
		}
		if in.Cron.Set {
			return alice.TaskInput{}, nil, errors.New("give every_seconds or cron, not both")
		}
		in.Cron = alice.Value(fmt.Sprintf("@every %ds", everySeconds))
	}
	if !in.Action.Set {
		switch {
		case in.Workflow.Set:
			in.Action = alice.Value(string(alice.ActionRunWorkflow))
		case in.Text.Set && !in.Prompt.Set:
			in.Action = alice.Value(string(alice.ActionSendText))
		default:
			in.Action = alice.Value(string(alice.ActionRunLLM))
		}
	}
	if !in.ScopeType.Set && !in.ScopeID.Set {
		in.ScopeType, in.ScopeID = alice.Value(string(scope.Type)), alice.Value(scope.ID)
	}
	sort.Strings(ignored)
	return in, ignored, nil
}
