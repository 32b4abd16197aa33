package automation

import (
	"fmt"
	"strings"
	"text/template"
	"time"

	"github.com/alice-runtime/alice"
	"github.com/alice-runtime/alice/config"
)

// DefaultGoalPrompt is the goal loop's prompt when the bot's goal.prompt is
// not set. It tells the agent how the loop goes on: a turn that ends
// without a delay is followed at once by the next.
const DefaultGoalPrompt = `You are working on a goal for this conversation, turn by turn, on your own.

Goal: {{.Objective}}

This is turn {{.Iteration}}; the goal was set {{.Elapsed}} ago.
{{- if .Deadline}} Its deadline is {{.Deadline.Format "2006-01-02 15:04 MST"}}, {{.Remaining}} from now.{{end}}
{{- if .DelayReason}}
Last turn you said: {{.DelayReason}}{{end}}

Carry the goal forward now. What you reply is sent to the conversation.
End the turn with exactly one of these commands:
  alice runtime goal delay <duration> "<what you wait for or do next>"
      to continue later: 0s continues at once, or from 1m to 12h
  alice runtime goal complete
      when the goal is achieved
If you end the turn without either, the next turn starts at once.
`

var defaultGoalPrompt = template.Must(template.New("goal.prompt").Option("missingkey=error").Parse(DefaultGoalPrompt))

// goalPrompt renders a goal loop turn's prompt.
func goalPrompt(t *template.Template, g alice.Goal, now time.Time) (string, error) {
	if t == nil {
		t = defaultGoalPrompt
	}
	data := config.GoalPromptData{
		Objective:   g.Description,
		Now:         now,
		Deadline:    g.DeadlineAt,
		Elapsed:     now.Sub(g.CreatedAt).Round(time.Second),
		Iteration:   g.Iterations + 1,
		DelayReason: g.DelayReason,
	}
	if g.DeadlineAt != nil {
		data.Remaining = g.DeadlineAt.Sub(now).Round(time.Second)
	}
	var sb strings.Builder
	if err := t.Execute(&sb, data); err != nil {
		return "", fmt.Errorf("goal.prompt: %w", err)
	}
	return sb.String(), nil
}
