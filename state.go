package alice

import "time"

// Header is the small record a conversation keeps besides its tasks: its
// active goal and the counts that let lists and caps avoid scanning.
type Header struct {
	Goal *Goal `json:"goal,omitempty"` // the active goal, nil when none
	// Tasks counts the conversation's tasks by status, finished ones
	// included, so a scope's X-Total-Count is one read.
	Tasks TaskCounts `json:"tasks,omitzero"`
	// Messages counts the conversation's outbox messages.
	Messages int `json:"messages,omitempty"`
	// OutboxDue is when the oldest outbox message passes the bot's age
	// limit; the conversation is woken then to drop it.
	OutboxDue *time.Time `json:"outbox_due,omitempty"`
	// Loop is the goal loop's bookkeeping for the active goal.
	Loop *GoalLoop `json:"loop,omitempty"`
}

// GoalLoop is what the goal loop keeps about the active goal besides the
// goal itself.
type GoalLoop struct {
	// Origin is the context of the request that created the goal, which
	// the goal's agent runs with.
	Origin *Conversation `json:"origin,omitempty"`
	// Fast counts the iterations in a row that were quick and ended with
	// no positive delay; enough of them pause the goal.
	Fast int `json:"fast,omitempty"`
	// Failures counts the iterations in a row that failed.
	Failures int `json:"failures,omitempty"`
	// WaitedAt is when the goal was last delayed by a positive duration.
	WaitedAt *time.Time `json:"waited_at,omitempty"`
}

// TaskCounts counts tasks by status. It is a struct, not a map, because the
// header is written with nearly every change of a conversation.
type TaskCounts struct {
	Active    int `json:"active,omitempty"`
	Paused    int `json:"paused,omitempty"`
	Completed int `json:"completed,omitempty"`
	Cancelled int `json:"cancelled,omitempty"`
}

// Of returns the count of status s.
func (c TaskCounts) Of(s TaskStatus) int {
	if p := c.field(s); p != nil {
		return *p
	}
	return 0
}

// Add adds d to the count of status s.
func (c *TaskCounts) Add(s TaskStatus, d int) {
	if p := c.field(s); p != nil {
		*p += d
	}
}

// Total is the count of all tasks.
func (c TaskCounts) Total() int { return c.Active + c.Paused + c.Completed + c.Cancelled }

func (c *TaskCounts) field(s TaskStatus) *int {
	switch s {
	case TaskActive:
		return &c.Active
	case TaskPaused:
		return &c.Paused
	case TaskCompleted:
		return &c.Completed
	case TaskCancelled:
		return &c.Cancelled
	}
	return nil
}

// Empty reports whether h holds nothing worth storing.
func (h *Header) Empty() bool {
	return h.Goal == nil && h.Loop == nil && h.Messages == 0 && h.OutboxDue == nil && h.Tasks == (TaskCounts{})
}

// Live is how many of the conversation's tasks count toward its cap: the
// ones that are neither completed nor cancelled.
func (h *Header) Live() int { return h.Tasks.Active + h.Tasks.Paused }

// Terminal is how many of the conversation's tasks are completed or
// cancelled (kept readable until their retention ends).
func (h *Header) Terminal() int { return h.Tasks.Completed + h.Tasks.Cancelled }

// Clone returns a copy of h whose pointers are its own, so a change can be
// prepared without touching the adopted header.
func (h Header) Clone() Header {
	if h.Goal != nil {
		g := *h.Goal
		h.Goal = &g
	}
	if h.Loop != nil {
		l := *h.Loop
		h.Loop = &l
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
	// Origin is the conversation of the request that created the task,
	// when it came from the task's own scope: its chat type, session and
	// actor are the context the task's agent runs with.
	Origin *Conversation `json:"origin,omitempty"`
	// Failures counts the occurrences that failed in a row; enough of them
	// pause a recurring task.
	Failures int `json:"failures,omitempty"`
}

// Conversation is the conversation the task serves, as its agent sees it:
// its scope, with the origin's context when it is known.
func (ts *TaskState) Conversation() Conversation {
	var c Conversation
	if ts.Origin != nil {
		c = *ts.Origin
		c.SourceMessageID = "" // a reply belongs to the request, not to every run
	}
	c.ReceiveID = ts.ScopeID
	switch {
	case ts.ScopeType == ScopeChat:
		c.ReceiveIDType = ReceiveChatID
	case c.ReceiveIDType == "" || c.ReceiveIDType == ReceiveChatID:
		c.ReceiveIDType = UserIDKind(ts.ScopeID)
	}
	return c
}

// RunRecord is a run to store: the Seq-th recorded occurrence of TaskID.
type RunRecord struct {
	TaskID string
	Seq    int
	Run    Run
}
