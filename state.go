package alice

import "time"

// Header is the small record a conversation keeps besides its tasks: its
// active goal and the counts that let lists and caps avoid scanning.
type Header struct {
	Goal *Goal `json:"goal,omitempty"` // the active goal, nil when none
	// Tasks counts the conversation's tasks by status, terminal ones
	// included, so a scope's X-Total-Count is one read.
	Tasks map[TaskStatus]int `json:"tasks,omitempty"`
	// Messages counts the conversation's outbox messages.
	Messages int `json:"messages,omitempty"`
	// OutboxDue is when the oldest outbox message passes the bot's age
	// limit; the conversation is woken then to drop it.
	OutboxDue *time.Time `json:"outbox_due,omitempty"`
}

// Empty reports whether h holds nothing worth storing.
func (h *Header) Empty() bool {
	if h.Goal != nil || h.Messages != 0 || h.OutboxDue != nil {
		return false
	}
	for _, n := range h.Tasks {
		if n != 0 {
			return false
		}
	}
	return true
}

// Live is how many of the conversation's tasks count toward its cap: the
// ones that are neither completed nor cancelled.
func (h *Header) Live() int {
	n := 0
	for s, c := range h.Tasks {
		if !s.Terminal() {
			n += c
		}
	}
	return n
}

// Terminal is how many of the conversation's tasks are completed or
// cancelled (kept readable until their retention ends).
func (h *Header) Terminal() int {
	return h.Tasks[TaskCompleted] + h.Tasks[TaskCancelled]
}

// Clone returns a copy of h whose map and pointers are its own, so a change
// can be prepared without touching the adopted header.
func (h Header) Clone() Header {
	if h.Tasks != nil {
		tasks := make(map[TaskStatus]int, len(h.Tasks))
		for s, n := range h.Tasks {
			if n != 0 {
				tasks[s] = n
			}
		}
		h.Tasks = tasks
	}
	if h.Goal != nil {
		g := *h.Goal
		h.Goal = &g
	}
	return h
}

// TaskState is a task with the bookkeeping its conversation persists.
type TaskState struct {
	Task
	// Recorded counts the task's recorded occurrences; run records are
	// numbered by it, which makes pruning old ones a computed delete.
	Recorded int `json:"recorded,omitempty"`
	// Due is when the timer service must next deliver this task to its
	// conversation: next_run_at of an active task, the end of retention of
	// a completed or cancelled one, never for a paused one. An occurrence
	// that has not been recorded keeps its slot as Due, so after a crash
	// the slot is delivered again and runs under the same occurrence id.
	Due *time.Time `json:"due,omitempty"`
}

// RunRecord is a run to store: the Seq-th recorded occurrence of TaskID.
type RunRecord struct {
	TaskID string
	Seq    int
	Run    Run
}
