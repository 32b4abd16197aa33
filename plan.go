package alice

import (
	"fmt"
	"math/bits"
	"time"

	"github.com/robfig/cron/v3"
)

// MaxSkippedListed bounds the missed slots a catch-up records one by one; the
// first record counts the older ones.
const MaxSkippedListed = 100

// Plan is what to do with a task whose next_run_at has come.
type Plan struct {
	Run     *time.Time  // the slot to run now, if any
	Skipped []time.Time // missed slots to record as skipped, oldest first
	Omitted int         // missed slots older than Skipped, counted but not listed
	Reason  string      // why they were skipped
	Next    *time.Time  // next_run_at afterwards (nil: the task is done)
}

// PlanDue decides which of the task's slots up to now run and which are
// skipped. The newest missed slot runs when it is within window of now (the
// catch-up after downtime); every older one is skipped. At most
// MaxSkippedListed skipped slots are listed; older ones are counted in
// Omitted. Its cost does not grow with the number of missed slots: a task
// missed for a year plans as fast as one missed for an hour.
func PlanDue(t *Task, now time.Time, window time.Duration, rules TaskRules) (Plan, error) {
	if t.NextRunAt == nil || t.NextRunAt.After(now) {
		return Plan{Next: t.NextRunAt}, nil
	}
	first := *t.NextRunAt
	slots, older := []time.Time{first}, 0
	var next *time.Time
	if t.Cron != "" {
		s, err := t.cronSchedule(rules)
		if err != nil {
			return Plan{}, err
		}
		slots, older = s.newest(first, now, MaxSkippedListed+1)
		// After the newest slot, not after now: "@every" slots follow on
		// from the previous slot, not from the clock.
		if n := s.next(slots[len(slots)-1]); !n.IsZero() {
			next = &n
		}
	}
	p := Plan{Next: next, Omitted: older}
	newest := slots[len(slots)-1]
	if now.Sub(newest) <= window {
		p.Run = &newest
		p.Skipped = slots[:len(slots)-1]
		p.Reason = fmt.Sprintf("missed while the runtime was down; caught up once with the slot at %s", newest.Format(time.RFC3339))
	} else {
		p.Skipped = slots
		p.Reason = fmt.Sprintf("missed by more than the catch-up window (%s)", window)
	}
	if extra := len(p.Skipped) - MaxSkippedListed; extra > 0 {
		p.Omitted += extra
		p.Skipped = p.Skipped[extra:]
	}
	return p, nil
}

// slotSchedule is a task's cron read in its zone, parsed once so that
// planning can count and list slots without parsing again.
type slotSchedule struct {
	sched cron.Schedule
	loc   *time.Location
}

func (t *Task) cronSchedule(rules TaskRules) (slotSchedule, error) {
	sched, err := ParseCron(t.Cron)
	if err != nil {
		return slotSchedule{}, err
	}
	loc, err := t.Location(rules)
	if err != nil {
		return slotSchedule{}, err
	}
	return slotSchedule{sched: sched, loc: loc}, nil
}

// next is the first slot strictly after `after`, in UTC; zero if the
// schedule never fires again.
func (s slotSchedule) next(after time.Time) time.Time {
	n := s.sched.Next(after.In(s.loc))
	if n.IsZero() {
		return n
	}
	return n.UTC()
}

// newest returns the newest n of the slots in [first, now], oldest first,
// and how many older ones there are. first must be a slot not after now.
//
// robfig/cron's Next costs up to tens of microseconds, so walking a year of
// minutely slots would take seconds inside the conversation. Instead the
// slots are counted and listed a calendar day at a time from the schedule's
// bit masks (see daySlots), and only as far back as n of them reach.
func (s slotSchedule) newest(first, now time.Time, n int) ([]time.Time, int) {
	if every, ok := s.sched.(cron.ConstantDelaySchedule); ok {
		return everyNewest(every.Delay, first, now, n)
	}
	spec, ok := s.sched.(*cron.SpecSchedule)
	if !ok { // no other kind comes from ParseCron; walk, to be safe
		return s.walkNewest(first, now, n)
	}
	var out []time.Time // newest first
	for day := civilDay(now, s.loc); len(out) < n; day = day.AddDate(0, 0, -1) {
		slots := s.daySlots(spec, day)
		for i := len(slots) - 1; i >= 0 && len(out) < n; i-- {
			if sl := slots[i]; !sl.After(now) && sl.After(first) {
				out = append(out, sl)
			}
		}
		if start, _ := dayBounds(day, s.loc); !start.After(first) { // first's day has been read
			break
		}
	}
	total := 1 + s.count(spec, first, now) // first itself, then the ones after it
	if len(out) < n {
		out = append(out, first)
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out, total - len(out)
}

// count is the number of slots in (after, to].
func (s slotSchedule) count(spec *cron.SpecSchedule, after, to time.Time) int {
	total := 0
	last := civilDay(to, s.loc)
	for day := civilDay(after, s.loc); !day.After(last); day = day.AddDate(0, 0, 1) {
		start, end := dayBounds(day, s.loc)
		if start.After(after) && !end.After(to) && normalDay(start, end, s.loc) {
			if monthDayMatches(spec, day) {
				total += bits.OnesCount64(spec.Hour&hourMask) * bits.OnesCount64(spec.Minute&minuteMask) * bits.OnesCount64(spec.Second&minuteMask)
			}
			continue
		}
		for _, sl := range s.daySlots(spec, day) {
			if sl.After(after) && !sl.After(to) {
				total++
			}
		}
	}
	return total
}

const (
	hourMask   = 1<<24 - 1
	minuteMask = 1<<60 - 1 // minutes and seconds both run 0-59
)

// civilDay is the calendar date t falls on in loc, as midnight UTC. Dates
// are counted in UTC, where every day has 24 hours, and turned into instants
// of loc only by dayBounds.
func civilDay(t time.Time, loc *time.Location) time.Time {
	y, m, d := t.In(loc).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// dayBounds is the first instant of the calendar date day in loc and the
// first instant of the next date.
func dayBounds(day time.Time, loc *time.Location) (start, end time.Time) {
	return dayStart(day, loc), dayStart(day.AddDate(0, 0, 1), loc)
}

// dayStart is midnight of day in loc, or, when a daylight-saving jump skips
// that midnight, the instant of the jump.
func dayStart(day time.Time, loc *time.Location) time.Time {
	y, m, d := day.Date()
	t := time.Date(y, m, d, 0, 0, 0, 0, loc)
	if _, _, got := t.Date(); got != d { // normalised into the day before
		_, t = t.ZoneBounds()
	}
	return t
}

// normalDay reports whether the day from start to end has no change of UTC
// offset: it starts at midnight, is 24 hours long, and every wall-clock time
// in it happens once.
func normalDay(start, end time.Time, loc *time.Location) bool {
	_, off1 := start.Zone()
	_, off2 := end.Add(-time.Nanosecond).Zone()
	local := start.In(loc)
	return off1 == off2 && end.Sub(start) == 24*time.Hour && local.Hour() == 0 && local.Minute() == 0
}

// monthDayMatches is robfig/cron's rule for whether a date is in the
// schedule: the month must match, and the day of month and day of week must
// both match when either field is "*", else either one may.
func monthDayMatches(spec *cron.SpecSchedule, day time.Time) bool {
	const star = 1 << 63
	if 1<<uint(day.Month())&spec.Month == 0 {
		return false
	}
	dom := 1<<uint(day.Day())&spec.Dom > 0
	dow := 1<<uint(day.Weekday())&spec.Dow > 0
	if spec.Dom&star > 0 || spec.Dow&star > 0 {
		return dom && dow
	}
	return dom || dow
}

// daySlots lists the slots of the calendar date day in the schedule's zone,
// ascending, in UTC. They are every matching hour, minute and second of the
// masks, except around a change of the zone's UTC offset (daylight saving):
// from a whole hour at least nearChange before it until the first slot
// nearChange after it, they come from robfig/cron's own Next, whose rules for
// skipped and repeated times are the ones the runtime follows. Those rules
// reach past the change itself: Next, stepping an hour at a time through a
// half-hour change, can miss the rest of the day. Walking only there keeps
// a year of minutely slots, with its two such days, to a few hundred calls
// of Next instead of thousands.
//
// Starting the walk at a whole hour gives what walking from the slot
// before would: Next crosses an hour by whole minutes and hours, and a
// stretch of one offset has the same whole hours either way.
func (s slotSchedule) daySlots(spec *cron.SpecSchedule, day time.Time) []time.Time {
	start, end := dayBounds(day, s.loc)
	matches := monthDayMatches(spec, day)
	if normalDay(start, end, s.loc) {
		if !matches {
			return nil
		}
		return wallSlots(spec, day, offsetAt(start, s.loc), start, end, nil)
	}
	var out []time.Time
	from := start // the slots before from are listed
	for _, change := range offsetChanges(start.Add(-nearChange), end.Add(nearChange)) {
		near := hourStart(change.Add(-nearChange), s.loc)
		if near.Before(from) {
			near = from
		}
		if matches {
			out = wallSlots(spec, day, offsetAt(from, s.loc), from, near, out)
		}
		sl := s.next(near.Add(-time.Second))
		for ; !sl.IsZero() && sl.Before(end); sl = s.next(sl) {
			out = append(out, sl)
			if !sl.Before(change.Add(nearChange)) {
				break
			}
		}
		if sl.IsZero() || !sl.Before(end) { // Next has left the day
			return out
		}
		from = sl.Add(time.Second)
	}
	if matches {
		out = wallSlots(spec, day, offsetAt(from, s.loc), from, end, out)
	}
	return out
}

// nearChange is how far either side of a change of UTC offset the slots
// are walked with robfig/cron's Next rather than read from the masks: an
// hour past the longest time any zone has skipped or repeated (two hours,
// Antarctica/Troll's), so that the walk starts at a time of day that
// happens once. Next rebuilds times from their date and hour, and a time
// that happens twice could be rebuilt as the other one.
const nearChange = 3 * time.Hour

// hourStart is the start of the hour of the zone's clock that t falls in.
func hourStart(t time.Time, loc *time.Location) time.Time {
	local := t.In(loc)
	return t.Add(-time.Duration(local.Minute())*time.Minute - time.Duration(local.Second())*time.Second - time.Duration(local.Nanosecond()))
}

// offsetChanges lists the instants in (from, to) at which the UTC offset
// of from's zone changes, ascending.
func offsetChanges(from, to time.Time) []time.Time {
	var out []time.Time
	for t := from; ; {
		_, change := t.ZoneBounds()
		if change.IsZero() || !change.Before(to) {
			return out
		}
		out = append(out, change)
		t = change
	}
}

// offsetAt is loc's UTC offset at t, in seconds.
func offsetAt(t time.Time, loc *time.Location) int {
	_, offset := t.In(loc).Zone()
	return offset
}

// wallSlots appends to out the times of the masks on the calendar date day
// that fall in [from, to), a stretch of the day whose UTC offset is offset
// seconds throughout.
func wallSlots(spec *cron.SpecSchedule, day time.Time, offset int, from, to time.Time, out []time.Time) []time.Time {
	midnight := day.Add(-time.Duration(offset) * time.Second) // the date's midnight at that offset
	for h := range uint64(24) {
		if spec.Hour&(1<<h) == 0 {
			continue
		}
		for m := range uint64(60) {
			if spec.Minute&(1<<m) == 0 {
				continue
			}
			for sec := range uint64(60) {
				if spec.Second&(1<<sec) == 0 {
					continue
				}
				sl := midnight.Add(time.Duration(h)*time.Hour + time.Duration(m)*time.Minute + time.Duration(sec)*time.Second)
				if !sl.Before(from) && sl.Before(to) {
					out = append(out, sl)
				}
			}
		}
	}
	return out
}

// everyNewest is newest for "@every d". robfig/cron's Next adds d to the
// previous slot after dropping its fraction of a second, so the slots after
// first are first (whole seconds) + d, + 2d, ...
func everyNewest(d time.Duration, first, now time.Time, n int) ([]time.Time, int) {
	base := first.Truncate(time.Second)
	if now.Before(base.Add(d)) {
		return []time.Time{first}, 0
	}
	last := int((now.Sub(base)) / d) // slots after first, up to now
	lo := max(last-n+1, 0)
	var out []time.Time
	for k := lo; k <= last; k++ {
		if k == 0 {
			out = append(out, first)
		} else {
			out = append(out, base.Add(time.Duration(k)*d).UTC())
		}
	}
	return out, lo
}

// walkNewest is newest by walking every slot, for schedule kinds the fast
// paths do not know.
func (s slotSchedule) walkNewest(first, now time.Time, n int) ([]time.Time, int) {
	slots, older := []time.Time{first}, 0
	for sl := s.next(first); !sl.IsZero() && !sl.After(now); sl = s.next(sl) {
		slots = append(slots, sl)
		if len(slots) > n {
			slots, older = slots[1:], older+1
		}
	}
	return slots, older
}
