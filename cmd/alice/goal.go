package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/alice-runtime/alice"
)

// newGoalCmd is "alice runtime goal", also "alice goal".
func newGoalCmd(c cli, name string) *cobra.Command {
	cmd := &cobra.Command{
		Use:   name,
		Short: "Drive the conversation's goal: get, create, delay, pause, resume, complete, clear",
		Long: `Drives the goal of the conversation in the ALICE_* environment.

` + envHelp,
		Args: cobra.NoArgs,
	}
	goal := func(use, short string, f func(*skill, alice.Conversation, []string) (*alice.Goal, error), args cobra.PositionalArgs) *cobra.Command {
		return &cobra.Command{
			Use: use, Short: short, Args: args,
			RunE: runSkill(c, func(s *skill, args []string) error {
				conv, err := s.conversation()
				if err != nil {
					return err
				}
				g, err := f(s, conv, args)
				if err != nil {
					return err
				}
				if g == nil {
					return s.none("no active goal")
				}
				return s.print(g)
			}),
		}
	}
	get := goal("get", "Print the active goal", func(s *skill, conv alice.Conversation, _ []string) (*alice.Goal, error) {
		return s.client.GetGoal(s.ctx, conv)
	}, cobra.NoArgs)
	create := goal(`create [JSON | DESCRIPTION...]`, "Create a goal", func(s *skill, conv alice.Conversation, args []string) (*alice.Goal, error) {
		if len(args) == 0 {
			body, err := s.body(nil)
			if err != nil {
				return nil, err
			}
			args = []string{string(body)}
		}
		req, err := goalRequest(strings.Join(args, " "))
		if err != nil {
			return nil, err
		}
		return s.client.CreateGoal(s.ctx, conv, req)
	}, cobra.ArbitraryArgs)
	create.Long = `Creates the conversation's goal from JSON, as Alice's skills send it:

  {"objective": "Add unit tests to the project", "deadline_in": "48h"}

("description" is the same as "objective"; deadline_in is optional), given
as the argument or on standard input. Plain text, not starting with "{", is
taken as the description.`
	delay := goal("delay DURATION REASON", "Set when the goal loop runs its next iteration", func(s *skill, conv alice.Conversation, args []string) (*alice.Goal, error) {
		d, err := time.ParseDuration(args[0])
		if err != nil {
			return nil, usageError{fmt.Errorf("duration %q is not a duration such as 0s, 8m or 1h30m", args[0])}
		}
		return s.client.DelayGoal(s.ctx, conv, alice.GoalDelay{Duration: d, Reason: args[1]})
	}, cobra.ExactArgs(2))
	delay.Long = `Sets when the goal loop runs its next iteration: DURATION is 0s (at once) or
from 1m to 12h, REASON says what the goal waits for or does next.

  alice runtime goal delay 8m "waiting for CI on PR #225"
  alice runtime goal delay 0s "continue with the auth module's tests"`
	pause := goal("pause", "Pause the goal", func(s *skill, conv alice.Conversation, _ []string) (*alice.Goal, error) {
		return s.client.PauseGoal(s.ctx, conv)
	}, cobra.NoArgs)
	resume := goal("resume", "Resume a paused goal", func(s *skill, conv alice.Conversation, _ []string) (*alice.Goal, error) {
		return s.client.ResumeGoal(s.ctx, conv)
	}, cobra.NoArgs)
	complete := goal("complete", "Mark the goal completed", func(s *skill, conv alice.Conversation, _ []string) (*alice.Goal, error) {
		return s.client.CompleteGoal(s.ctx, conv)
	}, cobra.NoArgs)
	clear := &cobra.Command{
		Use: "clear", Aliases: []string{"delete"}, Short: "Delete the goal", Args: cobra.NoArgs,
		RunE: runSkill(c, func(s *skill, _ []string) error {
			conv, err := s.conversation()
			if err != nil {
				return err
			}
			if err := s.client.DeleteGoal(s.ctx, conv); err != nil {
				return err
			}
			return s.none("goal deleted")
		}),
	}
	cmd.AddCommand(get, create, delay, pause, resume, complete, clear)
	return cmd
}

// goalRequest reads a goal create: JSON with objective or description and
// an optional deadline_in, or plain text.
func goalRequest(text string) (alice.GoalCreate, error) {
	text = strings.TrimSpace(text)
	if !strings.HasPrefix(text, "{") {
		return alice.GoalCreate{Description: text}, nil
	}
	var body struct {
		Objective   string `json:"objective"`
		Description string `json:"description"`
		DeadlineIn  string `json:"deadline_in"`
	}
	dec := json.NewDecoder(bytes.NewReader([]byte(text)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil {
		return alice.GoalCreate{}, usageError{fmt.Errorf("the goal JSON is invalid: %v (want {\"objective\": \"...\", \"deadline_in\": \"48h\"})", err)}
	}
	if body.Objective != "" && body.Description != "" {
		return alice.GoalCreate{}, usageError{errors.New("give objective or description, not both")}
	}
	req := alice.GoalCreate{Description: body.Objective + body.Description}
	if body.DeadlineIn != "" {
		d, err := time.ParseDuration(body.DeadlineIn)
		if err != nil || d <= 0 {
			return alice.GoalCreate{}, usageError{fmt.Errorf("deadline_in %q is not a positive duration such as 48h", body.DeadlineIn)}
		}
		req.DeadlineIn = d
	}
	return req, nil
}
