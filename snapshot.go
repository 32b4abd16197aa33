package alice

import "time"

// Snapshot is everything one conversation persists. A conversation writes
// its whole snapshot in one transaction after each change and adopts the
// new state only once that transaction has committed.
type Snapshot struct {
	Goal  *Goal        `json:"goal,omitempty"`  // the active goal, nil when none
	Tasks []*TaskState `json:"tasks,omitempty"` // in creation order
}

// TaskState is a task with the bookkeeping its conversation persists.
type TaskState struct {
	Task
	// Recorded counts the task's recorded occurrences; run records are
	// numbered by it, which makes pruning old ones a single delete.
	Recorded int `json:"recorded,omitempty"`
	// InFlight is the occurrence that was started and not yet recorded. It
	// survives a crash, so the occurrence is resumed (at least once) and
	// still recorded exactly once.
	InFlight *Occurrence `json:"in_flight,omitempty"`
}

// Occurrence is one started run of a task.
type Occurrence struct {
	ID          string    `json:"id"`
	ScheduledAt time.Time `json:"scheduled_at"`
	StartedAt   time.Time `json:"started_at"`
}

// DueAt is when the timer service must next deliver this task: the
// scheduled time of an unfinished occurrence, else next_run_at of an active
// task, else never.
func (t *TaskState) DueAt() *time.Time {
	if t.InFlight != nil {
		at := t.InFlight.ScheduledAt
		return &at
	}
	if t.Status == TaskActive {
		return t.NextRunAt
	}
	return nil
}

// Task returns the conversation's task with id, or nil.
func (s *Snapshot) Task(id string) *TaskState {
	for _, t := range s.Tasks {
		if t.ID == id {
			return t
		}
	}
	return nil
}

// RunRecord is a run to store with a snapshot: the Seq-th recorded
// occurrence of task TaskID.
type RunRecord struct {
	TaskID string
	Seq    int
	Run    Run
}
