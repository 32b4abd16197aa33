package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/alice-runtime/alice"
	"github.com/alice-runtime/alice/wire"
)

// writeGoal writes a goal with status ok, or 204 when there is none.
func (a *api) writeGoal(w http.ResponseWriter, r *http.Request, g *alice.Goal, err error, ok int) {
	switch {
	case err != nil:
		a.fail(w, r, err)
	case g == nil:
		w.WriteHeader(http.StatusNoContent)
	default:
		writeJSON(w, r, ok, g)
	}
}

func (a *api) getGoal(w http.ResponseWriter, r *http.Request) {
	conv, err := conversation(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	g, err := a.cfg.Goals.GetGoal(r.Context(), conv)
	a.writeGoal(w, r, g, err, http.StatusOK)
}

func (a *api) createGoal(w http.ResponseWriter, r *http.Request) {
	conv, err := conversation(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	var body struct {
		Description *string `json:"description"`
		Objective   *string `json:"objective"` // what Alice's skills call it
		DeadlineIn  *string `json:"deadline_in"`
	}
	if err := decodeJSON(r, &body, false); err != nil {
		a.fail(w, r, err)
		return
	}
	req := alice.GoalCreate{IdempotencyKey: r.Header.Get(wire.HeaderIdempotencyKey)}
	switch {
	case body.Description != nil && body.Objective != nil:
		a.fail(w, r, alice.Errorf(alice.EInvalid, "send description or objective, not both (they are the same thing)"))
		return
	case body.Description != nil:
		req.Description = *body.Description
	case body.Objective != nil:
		req.Description = *body.Objective
	default:
		a.fail(w, r, alice.Errorf(alice.EInvalid, "description (or objective) is required"))
		return
	}
	if body.DeadlineIn != nil {
		d, err := time.ParseDuration(*body.DeadlineIn)
		if err != nil || d <= 0 {
			a.fail(w, r, alice.Errorf(alice.EInvalid, "deadline_in %s must be a positive duration such as 48h or 90m", alice.Quote(*body.DeadlineIn)))
			return
		}
		req.DeadlineIn = d
	}
	g, err := a.cfg.Goals.CreateGoal(r.Context(), conv, req)
	a.writeGoal(w, r, g, err, http.StatusCreated)
}

func (a *api) delayGoal(w http.ResponseWriter, r *http.Request) {
	conv, err := conversation(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	var body struct {
		Duration *string `json:"duration"`
		Reason   string  `json:"reason"`
	}
	if err := decodeJSON(r, &body, false); err != nil {
		a.fail(w, r, err)
		return
	}
	if body.Duration == nil {
		a.fail(w, r, alice.Errorf(alice.EInvalid, "duration is required: 0s, or from 1m to 12h"))
		return
	}
	d, err := time.ParseDuration(*body.Duration)
	if err != nil {
		a.fail(w, r, alice.Errorf(alice.EInvalid, "duration %s is not a duration such as 0s, 8m or 1h30m", alice.Quote(*body.Duration)))
		return
	}
	g, err := a.cfg.Goals.DelayGoal(r.Context(), conv, alice.GoalDelay{Duration: d, Reason: body.Reason})
	a.writeGoal(w, r, g, err, http.StatusOK)
}

func (a *api) deleteGoal(w http.ResponseWriter, r *http.Request) {
	conv, err := conversation(r)
	if err == nil {
		err = a.cfg.Goals.DeleteGoal(r.Context(), conv)
	}
	a.writeGoal(w, r, nil, err, http.StatusNoContent)
}

// goalTransition serves pause, resume and complete. Their body is optional;
// when present it must be an empty JSON object.
func (a *api) goalTransition(op func(context.Context, alice.Conversation) (*alice.Goal, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		conv, err := conversation(r)
		if err != nil {
			a.fail(w, r, err)
			return
		}
		var empty struct{}
		if err := decodeJSON(r, &empty, true); err != nil {
			a.fail(w, r, err)
			return
		}
		g, err := op(r.Context(), conv)
		a.writeGoal(w, r, g, err, http.StatusOK)
	}
}
