package alice

import (
	"testing"
	"time"
)

func BenchmarkApplyGoal(b *testing.B) {
	now := time.Now()
	id := func() string { return "goal_x" }
	for i := 0; i < b.N; i++ {
		g, _, _ := ApplyGoal(nil, GoalCommand{Op: OpCreate, Description: "bench"}, GoalRules{}, now, id)
		g, _, _ = ApplyGoal(g, GoalCommand{Op: OpPause}, GoalRules{}, now, id)
		ApplyGoal(g, GoalCommand{Op: OpComplete}, GoalRules{}, now, id)
	}
}
