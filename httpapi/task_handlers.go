package httpapi

import (
	"net/http"

	"github.com/julienschmidt/httprouter"

	"github.com/alice-runtime/alice"
	"github.com/alice-runtime/alice/actors"
	"github.com/alice-runtime/alice/persistence"
)

var errAutomationOff = &alice.Error{Code: alice.EForbidden, Message: "automation writes are disabled for this bot (permissions.runtime_automation is false)"}

// canAutomate is the gate of task writes; reads are never gated.
func (a *api) canAutomate(w http.ResponseWriter, r *http.Request) bool {
	if !a.cfg.Permissions.Automation {
		a.fail(w, r, errAutomationOff)
		return false
	}
	return true
}

func (a *api) createTask(w http.ResponseWriter, r *http.Request) {
	if !a.canAutomate(w, r) {
		return
	}
	var in alice.TaskInput
	if err := decodeJSON(r, &in, false); err != nil {
		a.fail(w, r, err)
		return
	}
	scope, err := alice.ParseScope(in.ScopeType.Value, in.ScopeID.Value)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	task, err := actors.CreateTask(r.Context(), a.cfg.Router, alice.ConversationKey{Bot: a.cfg.BotID, Scope: scope}, in)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	w.Header().Set("Location", "/api/v1/automation/tasks/"+task.ID)
	writeJSON(w, r, http.StatusCreated, task)
}

func (a *api) listTasks(w http.ResponseWriter, r *http.Request) {
	q, offset, limit, err := listQuery(r, "status", "scope_type", "scope_id")
	if err != nil {
		a.fail(w, r, err)
		return
	}
	f := persistence.TaskFilter{Bot: a.cfg.BotID}
	switch s := alice.TaskStatus(q.Get("status")); s {
	case "", alice.TaskActive, alice.TaskCompleted, alice.TaskCancelled:
		f.Status = s
	default:
		a.fail(w, r, alice.Errorf(alice.EInvalid, "status %q must be active, completed or cancelled", truncate(string(s), 32)))
		return
	}
	if q.Has("scope_type") || q.Has("scope_id") {
		typ := alice.ScopeType(q.Get("scope_type"))
		if typ != alice.ScopeChat && typ != alice.ScopeUser {
			a.fail(w, r, alice.Errorf(alice.EInvalid, "scope_type must be chat or user when filtering by scope"))
			return
		}
		if q.Has("scope_id") {
			if err := alice.CheckID("scope_id", q.Get("scope_id")); err != nil {
				a.fail(w, r, err)
				return
			}
		}
		f.Scope = &alice.Scope{Type: typ, ID: q.Get("scope_id")}
	}
	tasks, total, err := a.cfg.Tasks.Tasks(r.Context(), f, offset, limit)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeList(w, r, tasks, total)
}

// findTask looks the :taskID up in the task index, which knows its owner.
func (a *api) findTask(r *http.Request) (alice.Task, alice.ConversationKey, error) {
	id := httprouter.ParamsFromContext(r.Context()).ByName("taskID")
	if alice.CheckID("task id", id) != nil {
		return alice.Task{}, alice.ConversationKey{}, alice.Errorf(alice.ENotFound, "task not found")
	}
	return a.cfg.Tasks.Task(r.Context(), a.cfg.BotID, id)
}

func (a *api) getTask(w http.ResponseWriter, r *http.Request) {
	task, _, err := a.findTask(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, r, http.StatusOK, task)
}

// writableTask gates a write to the :taskID task and finds its owner,
// answering the request itself when either fails.
func (a *api) writableTask(w http.ResponseWriter, r *http.Request) (alice.Task, alice.ConversationKey, bool) {
	if !a.canAutomate(w, r) {
		return alice.Task{}, alice.ConversationKey{}, false
	}
	task, key, err := a.findTask(r)
	if err != nil {
		a.fail(w, r, err)
		return alice.Task{}, alice.ConversationKey{}, false
	}
	return task, key, true
}

func (a *api) patchTask(w http.ResponseWriter, r *http.Request) {
	task, key, ok := a.writableTask(w, r)
	if !ok {
		return
	}
	var patch alice.TaskInput
	if err := decodeJSON(r, &patch, false); err != nil {
		a.fail(w, r, err)
		return
	}
	updated, err := actors.PatchTask(r.Context(), a.cfg.Router, key, task.ID, patch)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, r, http.StatusOK, updated)
}

func (a *api) deleteTask(w http.ResponseWriter, r *http.Request) {
	task, key, ok := a.writableTask(w, r)
	if !ok {
		return
	}
	if err := actors.DeleteTask(r.Context(), a.cfg.Router, key, task.ID); err != nil {
		a.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *api) listRuns(w http.ResponseWriter, r *http.Request) {
	_, offset, limit, err := listQuery(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	task, _, err := a.findTask(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	runs, total, err := a.cfg.Tasks.Runs(r.Context(), task.ID, offset, limit)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeList(w, r, runs, total)
}
