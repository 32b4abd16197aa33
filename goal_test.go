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
			OpDelay:    {code: ENotFound},
			OpTimeOut:  {code: ENotFound},
		},
		"in_progress": {
			OpGet:      {next: GoalInProgress, shown: GoalInProgress},
			OpCreate:   {next: GoalInProgress, code: EConflict},
			OpPause:    {next: GoalPaused, shown: GoalPaused},
			OpResume:   {next: GoalInProgress, code: EConflict},
			OpComplete: {shown: GoalCompleted},
			OpDelete:   {},
			OpDelay:    {next: GoalInProgress, shown: GoalInProgress},
			OpTimeOut:  {shown: GoalTimedOut},
		},
		"paused": {
			OpGet:      {next: GoalPaused, shown: GoalPaused},
			OpCreate:   {next: GoalPaused, code: EConflict},
			OpPause:    {next: GoalPaused, code: EConflict},
			OpResume:   {next: GoalInProgress, shown: GoalInProgress},
			OpComplete: {shown: GoalCompleted},
			OpDelete:   {},
			OpDelay:    {next: GoalPaused, code: EConflict},
			OpTimeOut:  {shown: GoalTimedOut},
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
				next, shown, err := ApplyGoal(st.active, GoalCommand{Op: op, Description: "Ship it", Delay: 8 * time.Minute, Reason: "CI"}, GoalRules{}, now, func() string { return "goal_new" })
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
			next, _, err := ApplyGoal(nil, GoalCommand{Op: OpCreate, Description: d}, GoalRules{}, time.Now(), func() string { return "goal_x" })
			if ErrorCode(err) != EInvalid || next != nil {
				t.Fatalf("got next=%v err=%v, want no goal and %s", next, err, EInvalid)
			}
		})
	}
	if _, _, err := ApplyGoal(nil, GoalCommand{Op: OpCreate, Description: string(long[:MaxGoalDescriptionBytes])}, GoalRules{}, time.Now(), func() string { return "goal_x" }); err != nil {
		t.Fatalf("a description of exactly %d bytes was refused: %v", MaxGoalDescriptionBytes, err)
	}
}

func TestApplyGoalUnknownCommand(t *testing.T) {
	for _, active := range []*Goal{nil, {ID: "goal_1", Status: GoalInProgress}} {
		if _, _, err := ApplyGoal(active, GoalCommand{Op: "explode"}, GoalRules{}, time.Now(), nil); ErrorCode(err) != EInvalid {
			t.Errorf("active=%v: err = %v, want %s", active, err, EInvalid)
		}
	}
}

func TestGoalDeadlinesAndWakes(t *testing.T) {
	now := time.Date(2025, 1, 15, 10, 0, 0, 0, time.UTC)
	id := func() string { return "goal_1" }
	tests := []struct {
		name             string
		cmd              GoalCommand
		rules            GoalRules
		deadline, wakeAt *time.Time
	}{
		{"no deadline, no loop", GoalCommand{Op: OpCreate, Description: "x"}, GoalRules{}, nil, nil},
		{"deadline_in", GoalCommand{Op: OpCreate, Description: "x", DeadlineIn: 48 * time.Hour}, GoalRules{}, ptr(now.Add(48 * time.Hour)), nil},
		{"the bot's default", GoalCommand{Op: OpCreate, Description: "x"}, GoalRules{DefaultDeadline: time.Hour}, ptr(now.Add(time.Hour)), nil},
		{"deadline_in beats the default", GoalCommand{Op: OpCreate, Description: "x", DeadlineIn: 2 * time.Hour}, GoalRules{DefaultDeadline: time.Hour}, ptr(now.Add(2 * time.Hour)), nil},
		{"the loop wakes it at once", GoalCommand{Op: OpCreate, Description: "x"}, GoalRules{Loop: true}, nil, &now},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, _, err := ApplyGoal(nil, tt.cmd, tt.rules, now, id)
			if err != nil {
				t.Fatal(err)
			}
			if !sameTime(g.DeadlineAt, tt.deadline) || !sameTime(g.NextWakeAt, tt.wakeAt) {
				t.Fatalf("deadline %v wake %v; want %v %v", g.DeadlineAt, g.NextWakeAt, tt.deadline, tt.wakeAt)
			}
		})
	}
	loop := GoalRules{Loop: true}
	g, _, _ := ApplyGoal(nil, GoalCommand{Op: OpCreate, Description: "x"}, loop, now, id)
	g, _, _ = ApplyGoal(g, GoalCommand{Op: OpDelay, Delay: 8 * time.Minute, Reason: "waiting for CI"}, loop, now, id)
	if !g.NextWakeAt.Equal(now.Add(8*time.Minute)) || g.DelayReason != "waiting for CI" {
		t.Fatalf("after delay: %+v", g)
	}
	g, _, _ = ApplyGoal(g, GoalCommand{Op: OpPause}, loop, now, id)
	if g.NextWakeAt != nil {
		t.Fatalf("a paused goal still wakes at %v", g.NextWakeAt)
	}
	later := now.Add(time.Hour)
	g, _, _ = ApplyGoal(g, GoalCommand{Op: OpResume}, loop, later, id)
	if !g.NextWakeAt.Equal(later) {
		t.Fatalf("resumed goal wakes at %v, want at once", g.NextWakeAt)
	}
}

func TestCheckDelay(t *testing.T) {
	for _, tt := range []struct {
		d      time.Duration
		reason string
		ok     bool
	}{
		{0, "continue with the tests", true}, {time.Minute, "r", true}, {12 * time.Hour, "r", true}, {8 * time.Minute, "CI", true},
		{59 * time.Second, "r", false}, {12*time.Hour + time.Second, "r", false}, {-time.Minute, "r", false},
		{time.Minute, "", false}, {time.Minute, "  ", false},
	} {
		if err := CheckDelay(tt.d, tt.reason); (err == nil) != tt.ok || (err != nil && ErrorCode(err) != EInvalid) {
			t.Errorf("CheckDelay(%s, %q) = %v, want ok=%v", tt.d, tt.reason, err, tt.ok)
		}
	}
}

func TestFormatDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		30 * time.Minute: "30m", 90 * time.Minute: "1h30m", 2 * time.Hour: "2h", 45 * time.Second: "45s",
		time.Minute + 5*time.Second: "1m5s", 0: "0s", 12 * time.Hour: "12h",
	} {
		if got := FormatDuration(d); got != want {
			t.Errorf("FormatDuration(%s) = %q, want %q", d, got, want)
		}
	}
}
