package alice

import (
	"testing"
	"time"
)

func TestApplyGoal(t *testing.T) {
	created := time.Date(2025, 1, 15, 10, 0, 0, 0, time.UTC)
	now := created.Add(time.Hour)
	inProgress := &Goal{ID: "goal_1", Description: "Review PR #42", Status: GoalInProgress, CreatedAt: created, UpdatedAt: created}
	paused := &Goal{ID: "goal_1", Description: "Review PR #42", Status: GoalPaused, CreatedAt: created, UpdatedAt: created}

	// want describes the outcome: the active goal's status afterwards ("" =
	// none), the shown goal's status ("" = nothing shown) and the error code.
	type want struct {
		next, shown GoalStatus
		code        Code
	}
	states := []struct {
		name   string
		active *Goal
	}{{"none", nil}, {"in_progress", inProgress}, {"paused", paused}}
	table := map[string]map[GoalOp]want{
		"none": {
			OpGet:      {},
			OpCreate:   {next: GoalInProgress, shown: GoalInProgress},
			OpPause:    {code: ENotFound},
			OpResume:   {code: ENotFound},
			OpComplete: {code: ENotFound},
			OpDelete:   {code: ENotFound},
		},
		"in_progress": {
			OpGet:      {next: GoalInProgress, shown: GoalInProgress},
			OpCreate:   {next: GoalInProgress, code: EConflict},
			OpPause:    {next: GoalPaused, shown: GoalPaused},
			OpResume:   {next: GoalInProgress, code: EConflict},
			OpComplete: {shown: GoalCompleted},
			OpDelete:   {},
		},
		"paused": {
			OpGet:      {next: GoalPaused, shown: GoalPaused},
			OpCreate:   {next: GoalPaused, code: EConflict},
			OpPause:    {next: GoalPaused, code: EConflict},
			OpResume:   {next: GoalInProgress, shown: GoalInProgress},
			OpComplete: {shown: GoalCompleted},
			OpDelete:   {},
		},
	}
	for _, st := range states {
		for _, op := range GoalOps() {
			w, ok := table[st.name][op]
			if !ok {
				t.Fatalf("table misses %s × %s", st.name, op)
			}
			t.Run(st.name+"/"+string(op), func(t *testing.T) {
				var before Goal
				if st.active != nil {
					before = *st.active
				}
				next, shown, err := ApplyGoal(st.active, GoalCommand{Op: op, Description: "Ship it"}, now, func() string { return "goal_new" })
				if got := ErrorCode(err); got != w.code {
					t.Fatalf("error code = %q (%v), want %q", got, err, w.code)
				}
				if got := statusOf(next); got != w.next {
					t.Errorf("next status = %q, want %q", got, w.next)
				}
				if got := statusOf(shown); got != w.shown {
					t.Errorf("shown status = %q, want %q", got, w.shown)
				}
				if st.active != nil && *st.active != before {
					t.Errorf("ApplyGoal modified its input: %+v, was %+v", *st.active, before)
				}
				changed := err == nil && op != OpGet && shown != nil
				if changed && !shown.UpdatedAt.Equal(now) {
					t.Errorf("updated_at = %v, want %v", shown.UpdatedAt, now)
				}
				if w.shown == GoalCompleted && (shown.CompletedAt == nil || !shown.CompletedAt.Equal(now)) {
					t.Errorf("completed_at = %v, want %v", shown.CompletedAt, now)
				}
				if op == OpCreate && err == nil && (shown.ID != "goal_new" || shown.Description != "Ship it" || !shown.CreatedAt.Equal(now)) {
					t.Errorf("created goal = %+v", shown)
				}
			})
		}
	}
}

func statusOf(g *Goal) GoalStatus {
	if g == nil {
		return ""
	}
	return g.Status
}

func TestApplyGoalValidatesDescription(t *testing.T) {
	long := make([]byte, MaxGoalDescriptionBytes+1)
	for i := range long {
		long[i] = 'a'
	}
	for name, d := range map[string]string{
		"empty":     "",
		"blank":     " \t\n",
		"oversized": string(long),
		"bad utf-8": "\xff\xfe",
	} {
		t.Run(name, func(t *testing.T) {
			next, _, err := ApplyGoal(nil, GoalCommand{Op: OpCreate, Description: d}, time.Now(), func() string { return "goal_x" })
			if ErrorCode(err) != EInvalid || next != nil {
				t.Fatalf("got next=%v err=%v, want no goal and %s", next, err, EInvalid)
			}
		})
	}
	if _, _, err := ApplyGoal(nil, GoalCommand{Op: OpCreate, Description: string(long[:MaxGoalDescriptionBytes])}, time.Now(), func() string { return "goal_x" }); err != nil {
		t.Fatalf("a description of exactly %d bytes was refused: %v", MaxGoalDescriptionBytes, err)
	}
}

func TestApplyGoalUnknownCommand(t *testing.T) {
	for _, active := range []*Goal{nil, {ID: "goal_1", Status: GoalInProgress}} {
		if _, _, err := ApplyGoal(active, GoalCommand{Op: "explode"}, time.Now(), nil); ErrorCode(err) != EInvalid {
			t.Errorf("active=%v: err = %v, want %s", active, err, EInvalid)
		}
	}
}
