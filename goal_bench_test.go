package alice

import (
	"testing"
	"time"
)

func BenchmarkApplyGoal(b *testing.B) {
	now := time.Now()
	id := func() string { return "goal_x" }
	for i := 0; i < b.N; i++ {
		g, _, _ := ApplyGoal(nil, GoalCommand{Op: GoalCreate, Description: "bench"}, now, id)
		g, _, _ = ApplyGoal(g, GoalCommand{Op: GoalPause}, now, id)
		ApplyGoal(g, GoalCommand{Op: GoalComplete}, now, id)
	}
}
