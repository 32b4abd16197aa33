package httpapi

import (
	"net/http"

	"github.com/alice-runtime/alice"
	"github.com/alice-runtime/alice/actors"
)

// runGoal sends cmd to the request's conversation and writes the goal with
// status ok, or 204 when there is no goal to show.
func (a *api) runGoal(w http.ResponseWriter, r *http.Request, cmd alice.GoalCommand, ok int) {
	_, key, err := a.conversation(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	g, err := actors.Goal(r.Context(), a.cfg.Router, key, cmd)
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
	a.runGoal(w, r, alice.GoalCommand{Op: alice.GoalGet}, http.StatusOK)
}

func (a *api) createGoal(w http.ResponseWriter, r *http.Request) {
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
	a.runGoal(w, r, alice.GoalCommand{Op: alice.GoalCreate, Description: *body.Description}, http.StatusCreated)
}

func (a *api) deleteGoal(w http.ResponseWriter, r *http.Request) {
	a.runGoal(w, r, alice.GoalCommand{Op: alice.GoalDelete}, http.StatusNoContent)
}

// goalTransition serves pause, resume and complete. Their body is optional;
// when present it must be an empty JSON object.
func (a *api) goalTransition(op alice.GoalOp) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var empty struct{}
		if err := decodeJSON(r, &empty, true); err != nil {
			a.fail(w, r, err)
			return
		}
		a.runGoal(w, r, alice.GoalCommand{Op: op}, http.StatusOK)
	}
}
