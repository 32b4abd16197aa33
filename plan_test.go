package alice

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/robfig/cron/v3"
)

func TestPlanDue(t *testing.T) {
	every := func(next time.Time) *Task { n := next; return &Task{ID: "task_1", Cron: "@every 1h", NextRunAt: &n} }
	every2h := func(next time.Time) *Task { n := next; return &Task{ID: "task_1", Cron: "@every 2h", NextRunAt: &n} }
	minutely := func(next time.Time) *Task { n := next; return &Task{ID: "task_1", Cron: "* * * * *", NextRunAt: &n} }
	oneShot := func(next time.Time) *Task { n := next; return &Task{ID: "task_1", NextRunAt: &n} }
	base := testNow
	year := 365 * 24 * time.Hour
	tests := []struct {
		name     string
		task     *Task
		now      time.Time
		run      *time.Time
		skipped  int
		next     *time.Time
		omitted  int
		reasonIs string
	}{
		{"on time", every(base), base.Add(time.Second), &base, 0, ptr(base.Add(time.Hour)), 0, ""},
		{"not yet", every(base.Add(time.Minute)), base, nil, 0, ptr(base.Add(time.Minute)), 0, ""},
		{"three missed, newest in window", every(base), base.Add(2*time.Hour + 30*time.Minute), ptr(base.Add(2 * time.Hour)), 2, ptr(base.Add(3 * time.Hour)), 0, "caught up once"},
		{"all missed beyond window", every2h(base), base.Add(5*time.Hour + 30*time.Minute), nil, 3, ptr(base.Add(6 * time.Hour)), 0, "more than the catch-up window"},
		{"one-shot in window", oneShot(base), base.Add(30 * time.Minute), &base, 0, nil, 0, ""},
		{"one-shot beyond window", oneShot(base), base.Add(2 * time.Hour), nil, 1, nil, 0, "more than the catch-up window"},
		{"a year of downtime is bounded", every2h(base), base.Add(8760*time.Hour + 90*time.Minute), nil, MaxSkippedListed, ptr(base.Add(8762 * time.Hour)), 8760/2 + 1 - MaxSkippedListed, "more than"},
		{"a year of downtime, caught up", every(base), base.Add(8760*time.Hour + 30*time.Minute), ptr(base.Add(8760 * time.Hour)), MaxSkippedListed, ptr(base.Add(8761 * time.Hour)), 8760 - MaxSkippedListed, "caught up once"},
		// 525,600 minutes in the year plus the first slot and the 30 after
		// the year; the newest runs, the 100 before it are listed.
		{"a year of minutely slots", minutely(base), base.Add(year + 30*time.Minute), ptr(base.Add(year + 30*time.Minute)), MaxSkippedListed, ptr(base.Add(year + 31*time.Minute)), 525600 + 30 - MaxSkippedListed, "caught up once"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := PlanDue(tt.task, tt.now, time.Hour, TaskRules{Zone: time.UTC})
			if err != nil {
				t.Fatal(err)
			}
			if !sameTime(p.Run, tt.run) || !sameTime(p.Next, tt.next) || len(p.Skipped) != tt.skipped || p.Omitted != tt.omitted {
				t.Fatalf("plan = run %v next %v skipped %d omitted %d; want run %v next %v skipped %d omitted %d",
					p.Run, p.Next, len(p.Skipped), p.Omitted, tt.run, tt.next, tt.skipped, tt.omitted)
			}
			if tt.reasonIs != "" && !strings.Contains(p.Reason, tt.reasonIs) {
				t.Fatalf("reason %q, want %q", p.Reason, tt.reasonIs)
			}
			for i, s := range p.Skipped {
				if s.After(tt.now) || (p.Run != nil && !s.Before(*p.Run)) || (i > 0 && !s.After(p.Skipped[i-1])) {
					t.Fatalf("skipped slot %d (%s) is out of order or in the future", i, s)
				}
			}
		})
	}
}

// walkSlots is the reference planning is checked against: every slot in
// [first, now] by walking robfig/cron's Next one slot at a time.
func walkSlots(t *testing.T, task *Task, rules TaskRules, now time.Time) []time.Time {
	t.Helper()
	slots := []time.Time{*task.NextRunAt}
	for {
		s, err := task.NextSlot(slots[len(slots)-1], rules)
		if err != nil {
			t.Fatal(err)
		}
		if s.After(now) {
			return slots
		}
		slots = append(slots, s)
	}
}

// TestPlanMatchesWalkingTheSlots compares the day-at-a-time planner with a
// plain walk over random schedules, zones with daylight saving (including
// Lord Howe's half-hour shift and a year when São Paulo skipped midnight),
// and random stretches of downtime.
func TestPlanMatchesWalkingTheSlots(t *testing.T) {
	exprs := []string{
		"* * * * *", "*/7 * * * *", "0 * * * *", "30 2 * * *", "15,45 1-3 * * *", "55 9 * * 1-5",
		"0 0 * * *", "0 0 1 * *", "0 12 * * 0", "0 9 1,15 * 1", "*/20 0-6 * 3,10,11 *", "@hourly", "@daily",
		"@every 1h", "@every 90m", "@every 7m",
	}
	zones := []string{"UTC", "America/New_York", "Europe/London", "Australia/Lord_Howe", "America/Sao_Paulo", "Asia/Shanghai"}
	rng := rand.New(rand.NewPCG(1, 2))
	starts := []time.Time{
		time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC),   // spring forward (north) ahead
		time.Date(2025, 10, 20, 0, 0, 0, 0, time.UTC), // fall back (north), spring (south)
		time.Date(2018, 10, 25, 0, 0, 0, 0, time.UTC), // São Paulo's midnight jump, 4 Nov 2018
	}
	for i := 0; i < 300; i++ {
		expr, zone := exprs[rng.IntN(len(exprs))], zones[rng.IntN(len(zones))]
		loc, err := time.LoadLocation(zone)
		if err != nil {
			t.Fatal(err)
		}
		rules := TaskRules{Zone: loc}
		task := &Task{ID: "task_1", Cron: expr}
		from := starts[rng.IntN(len(starts))].Add(time.Duration(rng.IntN(10*24*60)) * time.Minute)
		first, err := task.NextSlot(from, rules)
		if err != nil {
			t.Fatal(err)
		}
		task.NextRunAt = &first
		now := first.Add(time.Duration(rng.IntN(40*24*60)) * time.Minute).Add(time.Duration(rng.IntN(60)) * time.Second)
		window := time.Duration(rng.IntN(3)) * time.Hour
		name := fmt.Sprintf("%s in %s from %s to %s", expr, zone, first.Format(time.RFC3339), now.Format(time.RFC3339))

		want := walkSlots(t, task, rules, now)
		p, err := PlanDue(task, now, window, rules)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got := append([]time.Time(nil), p.Skipped...)
		if p.Run != nil {
			got = append(got, *p.Run)
		}
		if total := p.Omitted + len(got); total != len(want) {
			t.Fatalf("%s: plan covers %d slots (%d omitted), walking finds %d", name, total, p.Omitted, len(want))
		}
		for j, s := range got {
			if w := want[p.Omitted+j]; !s.Equal(w) {
				t.Fatalf("%s: listed slot %d is %s, walking gives %s", name, j, s, w)
			}
		}
		if wantNext, _ := task.NextSlot(want[len(want)-1], rules); !sameTime(p.Next, &wantNext) {
			t.Fatalf("%s: next %v, want %s", name, p.Next, wantNext)
		}
	}
}

// TestDaySlotsAroundOffsetChanges checks the days on which a zone's UTC
// offset changes, and the days either side, against walking each day slot
// by slot with robfig/cron's Next: daySlots walks only near the change and
// reads the rest of the day from the masks. The zones have changes of two
// hours (Troll), half an hour (Lord Howe), at midnight (Havana, Santiago)
// and to a smaller offset in winter (Dublin); Chatham's offset is not a
// whole hour.
func TestDaySlotsAroundOffsetChanges(t *testing.T) {
	exprs := []string{"* * * * *", "*/7 * * * *", "30 2 * * *", "15,45 1-3 * * *", "0 0 * * *", "30 0 * * *",
		"45 23 * * *", "0 12 * * 0", "5 0-3 * * 6,0", "@hourly"}
	zones := []string{"America/New_York", "Antarctica/Troll", "Australia/Lord_Howe", "America/Havana", "America/Santiago", "Europe/Dublin", "Pacific/Chatham"}
	days := 0
	for _, zone := range zones {
		loc, err := time.LoadLocation(zone)
		if err != nil {
			t.Fatal(err)
		}
		for _, expr := range exprs {
			s, err := (&Task{Cron: expr}).cronSchedule(TaskRules{Zone: loc})
			if err != nil {
				t.Fatal(err)
			}
			spec := s.sched.(*cron.SpecSchedule)
			for at := time.Date(2022, 1, 1, 0, 0, 0, 0, loc); at.Year() < 2027; {
				_, change := at.ZoneBounds()
				if change.IsZero() {
					break
				}
				for d := -1; d <= 1; d++ {
					day := civilDay(change, loc).AddDate(0, 0, d)
					start, end := dayBounds(day, loc)
					var want []time.Time
					for sl := s.next(start.Add(-time.Second)); !sl.IsZero() && sl.Before(end); sl = s.next(sl) {
						want = append(want, sl)
					}
					if got := s.daySlots(spec, day); !slices.EqualFunc(got, want, time.Time.Equal) {
						t.Fatalf("%s in %s on %s: daySlots gives %d slots %v, walking %d %v",
							expr, zone, day.Format(time.DateOnly), len(got), got, len(want), want)
					}
					days++
				}
				at = change
			}
		}
	}
	if days < 500 {
		t.Fatalf("only %d days checked: the zones' changes were not found", days)
	}
}

// BenchmarkPlanYearOfMinutes plans a minutely task missed for a year in a
// zone with daylight saving; the target is under 10 ms per plan.
func BenchmarkPlanYearOfMinutes(b *testing.B) {
	loc, _ := time.LoadLocation("America/New_York")
	first := time.Date(2025, 1, 1, 0, 0, 0, 0, loc).UTC()
	task := &Task{ID: "task_1", Cron: "* * * * *", NextRunAt: &first}
	now := first.Add(365 * 24 * time.Hour)
	for b.Loop() {
		if _, err := PlanDue(task, now, time.Hour, TaskRules{Zone: loc}); err != nil {
			b.Fatal(err)
		}
	}
}
