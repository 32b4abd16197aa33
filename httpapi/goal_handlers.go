package httpapi

import (
	"context"
	"net/http"

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
	}
	if err := decodeJSON(r, &body, false); err != nil {
		a.fail(w, r, err)
		return
	}
	if body.Description == nil {
		a.fail(w, r, alice.Errorf(alice.EInvalid, "description is required"))
		return
	}
	req := alice.GoalCreate{Description: *body.Description, IdempotencyKey: r.Header.Get(wire.HeaderIdempotencyKey)}
	g, err := a.cfg.Goals.CreateGoal(r.Context(), conv, req)
	a.writeGoal(w, r, g, err, http.StatusCreated)
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
