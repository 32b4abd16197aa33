package alice

// Snapshot is everything one conversation persists. A conversation writes
// its whole snapshot in one transaction after each change and adopts the
// new state only once that transaction has committed.
type Snapshot struct {
	Goal *Goal `json:"goal,omitempty"` // the active goal, nil when none
}
