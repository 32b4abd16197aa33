package httpapi

import (
	"net/http"

	"github.com/julienschmidt/httprouter"

	"github.com/alice-runtime/alice"
	"github.com/alice-runtime/alice/wire"
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

func taskID(r *http.Request) string {
	return httprouter.ParamsFromContext(r.Context()).ByName("taskID")
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
	req := alice.TaskCreate{Input: in, IdempotencyKey: r.Header.Get(wire.HeaderIdempotencyKey)}
	if c, err := conversation(r); err == nil {
		req.Origin = &c // optional here: it gives the task's agent its context
	}
	task, err := a.cfg.Tasks.CreateTask(r.Context(), req)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	w.Header().Set("Location", "/api/v1/automation/tasks/"+task.ID)
	writeJSON(w, r, http.StatusCreated, task)
}

func (a *api) listTasks(w http.ResponseWriter, r *http.Request) {
	q, page, err := listQuery(r, "status", "scope_type", "scope_id")
	if err != nil {
		a.fail(w, r, err)
		return
	}
	f := alice.TaskFilter{Status: alice.TaskStatus(q.Get("status")), ScopeType: alice.ScopeType(q.Get("scope_type")), ScopeID: q.Get("scope_id")}
	if q.Has("scope_type") && f.ScopeType == "" {
		a.fail(w, r, alice.Errorf(alice.EInvalid, "scope_type must be chat or user when filtering by scope"))
		return
	}
	tasks, total, err := a.cfg.Tasks.ListTasks(r.Context(), f, page)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeList(w, r, tasks, total)
}

func (a *api) getTask(w http.ResponseWriter, r *http.Request) {
	task, err := a.cfg.Tasks.GetTask(r.Context(), taskID(r))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, r, http.StatusOK, task)
}

func (a *api) patchTask(w http.ResponseWriter, r *http.Request) {
	if !a.canAutomate(w, r) {
		return
	}
	var patch alice.TaskInput
	if err := decodeJSON(r, &patch, false); err != nil {
		a.fail(w, r, err)
		return
	}
	task, err := a.cfg.Tasks.PatchTask(r.Context(), taskID(r), patch)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, r, http.StatusOK, task)
}

func (a *api) deleteTask(w http.ResponseWriter, r *http.Request) {
	if !a.canAutomate(w, r) {
		return
	}
	if err := a.cfg.Tasks.DeleteTask(r.Context(), taskID(r)); err != nil {
		a.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *api) listRuns(w http.ResponseWriter, r *http.Request) {
	_, page, err := listQuery(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	runs, total, err := a.cfg.Tasks.TaskRuns(r.Context(), taskID(r), page)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeList(w, r, runs, total)
}
