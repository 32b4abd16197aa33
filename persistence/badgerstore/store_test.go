package badgerstore

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/alice-runtime/alice"
	"github.com/alice-runtime/alice/persistence"
)

func dueIDs(t *testing.T, s *Store, by time.Time) string {
	t.Helper()
	due, err := s.DueBy(ctx, time.Time{}, by, nil, 100)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, d := range due {
		ids = append(ids, fmt.Sprintf("%s@%d", d.ID, d.At.Minute()))
	}
	return fmt.Sprint(ids)
}

func TestIndexesFollowTheRecords(t *testing.T) {
	s, dir := openTemp(t, Options{})
	c := newConv(t, s, chat("oc_1"))
	c.put(task(c.key, "task_a", alice.TaskActive, at(30)), task(c.key, "task_b", alice.TaskActive, at(10)))
	if got := dueIDs(t, s, *at(59)); got != "[task_b@10 task_a@30]" {
		t.Fatalf("due = %s", got)
	}
	if got := dueIDs(t, s, *at(20)); got != "[task_b@10]" {
		t.Fatalf("due by :20 = %s", got)
	}
	if next, ok, _ := s.NextDue(ctx, *at(10)); !ok || !next.Equal(*at(30)) {
		t.Fatalf("NextDue after :10 = %v %v, want :30", next, ok)
	}
	// Paging past an entry with a cursor.
	first, _ := s.DueBy(ctx, time.Time{}, *at(59), nil, 1)
	if rest, _ := s.DueBy(ctx, time.Time{}, *at(59), &first[0], 10); len(rest) != 1 || rest[0].ID != "task_a" {
		t.Fatalf("DueBy after %v = %v", first, rest)
	}
	// A window that starts after an entry leaves it out; one that starts at
	// an entry's time keeps it.
	for _, w := range []struct {
		from int
		want string
	}{{11, "task_a"}, {30, "task_a"}, {10, "task_b"}} {
		if due, _ := s.DueBy(ctx, *at(w.from), *at(59), nil, 10); len(due) == 0 || due[0].ID != w.want {
			t.Fatalf("DueBy from :%d = %v, want %s first", w.from, due, w.want)
		}
	}

	// Move a, cancel b (its due becomes the end of its retention).
	c.put(task(c.key, "task_a", alice.TaskActive, at(40)), task(c.key, "task_b", alice.TaskCancelled, at(50)))
	if got := dueIDs(t, s, *at(59)); got != "[task_a@40 task_b@50]" {
		t.Fatalf("due after the move = %s", got)
	}
	got, key, err := s.Task(ctx, "main", "task_b")
	if err != nil || key != c.key || got.Status != alice.TaskCancelled {
		t.Fatalf("Task = %+v %v %v", got, key, err)
	}
	h, err := s.Load(ctx, c.key)
	if err != nil || h.Tasks.Active != 1 || h.Tasks.Cancelled != 1 {
		t.Fatalf("Load = %+v, %v; want the live task_a and the cancelled one counted", h, err)
	}
	if ts, err := s.TaskRecord(ctx, c.key, "task_b"); err != nil || ts.Status != alice.TaskCancelled {
		t.Fatalf("TaskRecord(task_b) = %+v, %v", ts, err)
	}

	// Runs go with their task.
	c.commit(&persistence.Change{Runs: []alice.RunRecord{{TaskID: "task_a", Seq: 0, Run: alice.Run{OccurrenceID: "occ_a_1", Outcome: alice.OutcomeSucceeded}}}})
	c.tasks["task_a"].Recorded = 1
	if _, n, _ := s.Runs(ctx, "task_a", alice.Page{Limit: 10}); n != 1 {
		t.Fatalf("%d runs", n)
	}
	c.remove("task_a")
	if _, _, err := s.Task(ctx, "main", "task_a"); alice.ErrorCode(err) != alice.ENotFound {
		t.Fatalf("deleted task: %v", err)
	}
	if _, n, _ := s.Runs(ctx, "task_a", alice.Page{Limit: 10}); n != 0 {
		t.Fatalf("deleted task still has %d runs", n)
	}
	if got := dueIDs(t, s, *at(59)); got != "[task_b@50]" {
		t.Fatalf("due after the delete = %s", got)
	}
	s.Close()
	if r := checkDir(t, dir); len(r.Problems) > 0 {
		t.Fatalf("check: %v", r.Problems)
	}
}

func TestTasksListFiltersAndPages(t *testing.T) {
	s, dir := openTemp(t, Options{})
	a, b := newConv(t, s, chat("oc_a")), newConv(t, s, chat("oc_a/b"))
	u := newConv(t, s, alice.ConversationKey{Bot: "main", Scope: alice.Scope{Type: alice.ScopeUser, ID: "ou_1"}})
	other := newConv(t, s, alice.ConversationKey{Bot: "other", Scope: alice.Scope{Type: alice.ScopeChat, ID: "oc_a"}})
	for i := 0; i < 5; i++ {
		a.put(task(a.key, fmt.Sprintf("task_a%d", i), alice.TaskActive, at(i)))
	}
	b.put(task(b.key, "task_b0", alice.TaskActive, at(1)), task(b.key, "task_b1", alice.TaskCompleted, nil))
	u.put(task(u.key, "task_u0", alice.TaskPaused, nil))
	other.put(task(other.key, "task_o0", alice.TaskActive, at(1)))
	a.put(task(a.key, "task_a3", alice.TaskCancelled, nil))

	tests := []struct {
		filter alice.TaskFilter
		page   alice.Page
		ids    string
		total  int
	}{
		{alice.TaskFilter{}, alice.Page{Limit: 50}, "[task_a0 task_a1 task_a2 task_a3 task_a4 task_b0 task_b1 task_u0]", 8},
		{alice.TaskFilter{}, alice.Page{Offset: 2, Limit: 3}, "[task_a2 task_a3 task_a4]", 8},
		{alice.TaskFilter{Status: alice.TaskActive}, alice.Page{Limit: 50}, "[task_a0 task_a1 task_a2 task_a4 task_b0]", 5},
		{alice.TaskFilter{Status: alice.TaskActive}, alice.Page{Offset: 4, Limit: 50}, "[task_b0]", 5},
		{alice.TaskFilter{ScopeType: alice.ScopeUser}, alice.Page{Limit: 50}, "[task_u0]", 1},
		{alice.TaskFilter{ScopeType: alice.ScopeChat, Status: alice.TaskActive}, alice.Page{Offset: 1, Limit: 2}, "[task_a1 task_a2]", 5},
		{alice.TaskFilter{ScopeType: alice.ScopeChat, ScopeID: "oc_a"}, alice.Page{Limit: 50}, "[task_a0 task_a1 task_a2 task_a3 task_a4]", 5},
		{alice.TaskFilter{ScopeType: alice.ScopeChat, ScopeID: "oc_a"}, alice.Page{Offset: 3, Limit: 1}, "[task_a3]", 5},
		{alice.TaskFilter{ScopeType: alice.ScopeChat, ScopeID: "oc_a", Status: alice.TaskActive}, alice.Page{Offset: 1, Limit: 2}, "[task_a1 task_a2]", 4},
		{alice.TaskFilter{ScopeType: alice.ScopeChat, ScopeID: "oc_a/b", Status: alice.TaskCompleted}, alice.Page{Limit: 50}, "[task_b1]", 1},
		{alice.TaskFilter{ScopeType: alice.ScopeChat, ScopeID: "oc_none"}, alice.Page{Limit: 50}, "[]", 0},
		{alice.TaskFilter{Status: alice.TaskCompleted}, alice.Page{Offset: 5, Limit: 50}, "[]", 1},
	}
	for _, tt := range tests {
		tasks, total, err := s.Tasks(ctx, "main", tt.filter, tt.page)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, task := range tasks {
			ids = append(ids, task.ID)
		}
		if got := fmt.Sprint(ids); got != tt.ids || total != tt.total {
			t.Errorf("Tasks(%+v, %+v) = %s total %d; want %s total %d", tt.filter, tt.page, got, total, tt.ids, tt.total)
		}
	}
	s.Close()
	if r := checkDir(t, dir); len(r.Problems) > 0 || r.Tasks != 9 {
		t.Fatalf("check: %d tasks, problems %v", r.Tasks, r.Problems)
	}
}

// TestOldestFinished: the oldest completed and cancelled tasks of one
// conversation, by creation, past the live ones among them.
func TestOldestFinished(t *testing.T) {
	s, _ := openTemp(t, Options{})
	a, b := newConv(t, s, chat("oc_a")), newConv(t, s, chat("oc_b"))
	a.put(task(a.key, "task_1", alice.TaskActive, at(1)), task(a.key, "task_2", alice.TaskCancelled, nil),
		task(a.key, "task_3", alice.TaskPaused, nil), task(a.key, "task_4", alice.TaskCompleted, nil),
		task(a.key, "task_5", alice.TaskCompleted, nil))
	b.put(task(b.key, "task_0", alice.TaskCompleted, nil))
	for _, tt := range []struct {
		n    int
		want string
	}{{0, "[]"}, {1, "[task_2]"}, {2, "[task_2 task_4]"}, {5, "[task_2 task_4 task_5]"}} {
		ids, err := s.OldestFinished(ctx, a.key, tt.n)
		if got := fmt.Sprint(ids); err != nil || got != tt.want {
			t.Errorf("OldestFinished(%d) = %s, %v; want %s", tt.n, got, err, tt.want)
		}
	}
}

func TestMessagesStayInTheirConversation(t *testing.T) {
	s, dir := openTemp(t, Options{})
	send := func(key alice.ConversationKey, h *alice.Header, id, text string, content []byte) {
		next := h.Clone()
		next.Messages++
		m := alice.Message{ID: id, Kind: alice.KindFile, Text: text, CreatedAt: *at(0)}
		if err := s.Commit(ctx, key, &persistence.Change{PrevHeader: h, Header: &next, Messages: []persistence.MessageWrite{{Message: m, Content: content}}}); err != nil {
			t.Fatal(err)
		}
		*h = next
	}
	var ha, hb alice.Header
	send(chat("oc_v"), &ha, "om_1", "a", []byte("A"))
	send(chat("oc_v/0"), &hb, "om_2", "b", []byte("B"))
	send(chat("oc_v/0"), &hb, "om_3", "c", nil)
	list := func(key alice.ConversationKey) string {
		items, total, err := s.Messages(ctx, key, alice.Page{Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, m := range items {
			ids = append(ids, m.ID)
		}
		return fmt.Sprint(ids, total)
	}
	if got := list(chat("oc_v")); got != "[om_1] 1" {
		t.Fatalf("oc_v lists %s", got)
	}
	if got := list(chat("oc_v/0")); got != "[om_2 om_3] 2" {
		t.Fatalf("oc_v/0 lists %s", got)
	}
	if _, _, err := s.MessageContent(ctx, chat("oc_v"), "om_2"); alice.ErrorCode(err) != alice.ENotFound {
		t.Fatalf("another conversation's message: %v, want not found", err)
	}
	if m, b, err := s.MessageContent(ctx, chat("oc_v/0"), "om_2"); err != nil || m.Text != "b" || string(b) != "B" {
		t.Fatalf("content = %+v %q %v", m, b, err)
	}
	oldest, _ := s.OldestMessages(ctx, chat("oc_v/0"), 1)
	if len(oldest) != 1 || oldest[0].ID != "om_2" {
		t.Fatalf("oldest = %+v", oldest)
	}
	s.Close()
	if r := checkDir(t, dir); len(r.Problems) > 0 || r.Messages != 3 {
		t.Fatalf("check: %d messages, %v", r.Messages, r.Problems)
	}
}

func TestIdempotencyRecords(t *testing.T) {
	s, _ := openTemp(t, Options{})
	key := chat("oc_1")
	rec := persistence.IdempotencyRecord{Key: "k-1", Fingerprint: "f1", Answer: json.RawMessage(`{"message_id":"om_1"}`), Expires: time.Now().Add(24 * time.Hour)}
	if err := s.Commit(ctx, key, &persistence.Change{Idempotency: []persistence.IdempotencyRecord{rec}}); err != nil {
		t.Fatal(err)
	}
	got, err := s.Idempotency(ctx, key, "k-1")
	if err != nil || got == nil || got.Fingerprint != "f1" || string(got.Answer) != string(rec.Answer) || got.Expires.Before(time.Now().Add(23*time.Hour)) {
		t.Fatalf("record = %+v, %v", got, err)
	}
	if got, _ := s.Idempotency(ctx, chat("oc_2"), "k-1"); got != nil {
		t.Fatalf("another conversation sees the key: %+v", got)
	}
}

func TestFullDiskRefusesWritesAndRecovers(t *testing.T) {
	var free atomic.Uint64
	free.Store(10 << 30)
	s, dir := openTemp(t, Options{MinFreeDisk: 256 << 20, FreeSpace: func(string) (uint64, error) { return free.Load(), nil }})
	c := newConv(t, s, chat("oc_1"))
	c.put(task(c.key, "task_a", alice.TaskActive, at(1)))

	free.Store(100 << 20)
	h := c.header.Clone()
	h.Tasks.Active++
	err := s.Commit(ctx, c.key, &persistence.Change{PrevHeader: &c.header, Header: &h, Tasks: []persistence.TaskWrite{{Next: task(c.key, "task_b", alice.TaskActive, at(2))}}})
	if alice.ErrorCode(err) != alice.EStorageFull || !strings.Contains(err.Error(), dir) || !strings.Contains(err.Error(), "100.0 MiB free") {
		t.Fatalf("write on a full disk: %v; want storage_full naming %s and the free space", err, dir)
	}
	if alice.ErrorCode(s.Health()) != alice.EStorageFull {
		t.Fatalf("health on a full disk: %v", s.Health())
	}
	if tasks, total, err := s.Tasks(ctx, "main", alice.TaskFilter{}, alice.Page{Limit: 10}); err != nil || total != 1 || len(tasks) != 1 {
		t.Fatalf("reads on a full disk: %v %d %v; want the one task", tasks, total, err)
	}

	free.Store(1 << 30)
	c.put(task(c.key, "task_b", alice.TaskActive, at(2)))
	if s.Health() != nil {
		t.Fatalf("health after space returned: %v", s.Health())
	}
}

func TestClosedStoreIsUnavailable(t *testing.T) {
	s, _ := openTemp(t, Options{})
	s.Close()
	err := s.Commit(ctx, chat("oc_1"), &persistence.Change{Tasks: []persistence.TaskWrite{{Next: task(chat("oc_1"), "task_a", alice.TaskActive, at(1))}}})
	if alice.ErrorCode(err) != alice.EUnavailable {
		t.Fatalf("commit after close: %v, want unavailable", err)
	}
	if _, err := s.Load(ctx, chat("oc_1")); alice.ErrorCode(err) != alice.EUnavailable {
		t.Fatalf("load after close: %v, want unavailable", err)
	}
}

func TestCheckFindsABrokenIndex(t *testing.T) {
	s, dir := openTemp(t, Options{})
	c := newConv(t, s, chat("oc_1"))
	c.put(task(c.key, "task_a", alice.TaskActive, at(1)))
	// Delete the due entry behind the store's back.
	if err := s.committer.submit(&write{ops: []op{{key: dueKey(*at(1), c.key, persistence.DueTask, "task_a"), delete: true}}}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	r := checkDir(t, dir)
	if len(r.Problems) != 1 || !strings.Contains(r.Problems[0], "task_a: due at") {
		t.Fatalf("check found %v; want the missing due entry of task_a", r.Problems)
	}
}

// TestCheckFindsARecordThatDoesNotDecode: a run, message or idempotency
// record without its version byte (as format 2 wrote them) is reported.
func TestCheckFindsARecordThatDoesNotDecode(t *testing.T) {
	for _, c := range []struct {
		name, want string
		key        func(alice.ConversationKey) []byte
	}{
		{"run", "run record 0 of task task_a: decode record", func(alice.ConversationKey) []byte { return runKey("task_a", 0) }},
		{"message", "message om_1 in main/chat/oc_1: decode record", func(k alice.ConversationKey) []byte { return convKey(famMessage, k, "om_1") }},
		{"idempotency", "idempotency record", func(k alice.ConversationKey) []byte { return convKey(famIdempotency, k, "key-1") }},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, dir := openTemp(t, Options{})
			cv := newConv(t, s, chat("oc_1"))
			ts := task(cv.key, "task_a", alice.TaskCompleted, at(1))
			ts.Recorded = 1
			h := cv.header.Clone()
			h.Messages = 1
			h.Tasks.Add(ts.Status, 1)
			cv.commit(&persistence.Change{PrevHeader: &cv.header, Header: &h,
				Tasks:    []persistence.TaskWrite{{Next: ts}},
				Runs:     []alice.RunRecord{{TaskID: "task_a", Run: alice.Run{OccurrenceID: "occ_1"}}},
				Messages: []persistence.MessageWrite{{Message: alice.Message{ID: "om_1", Kind: alice.KindText, Text: "hi"}}},
			})
			// Overwrite one record behind the store's back.
			if err := s.committer.submit(&write{ops: []op{{key: c.key(cv.key), value: []byte(`{"id":"om_1"}`)}}}); err != nil {
				t.Fatal(err)
			}
			s.Close()
			r := checkDir(t, dir)
			if len(r.Problems) != 1 || !strings.Contains(r.Problems[0], c.want) {
				t.Fatalf("check found %q; want one problem with %q", r.Problems, c.want)
			}
		})
	}
}

// TestMigrateFormat1 opens a copy of a data dir written by format 1 and
// checks that all it held is there in format 2, including two conversations
// whose format 1 outbox keys collided by prefix.
func TestMigrateFormat1(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "store")
	if err := os.CopyFS(dir, os.DirFS("../../testdata/v1-datadir/store")); err != nil {
		t.Fatal(err)
	}
	s, err := Open(dir, Options{Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	const (
		hourly    = "task_01jhmk1sm0bkjcjnbkv09hm1jz"
		once      = "task_01jhmk1sm0bkjcjnbkv3w2cga7"
		cancelled = "task_01jhmk1sm0bkjcjnbkv4f0eg88"
		future    = "task_01jhmk1sm0bkjcjnbkv7qr1899"
		inFlight  = "task_01jhmk1sm0bkjcjnbkvayd71rc"
	)
	fixture := chat("oc_fixture")
	h, err := s.Load(ctx, fixture)
	if err != nil {
		t.Fatal(err)
	}
	if g := h.Goal; g == nil || g.Description != "Fixture goal" || g.Status != alice.GoalPaused {
		t.Fatalf("goal = %+v", g)
	}
	if h.Tasks.Active != 2 || h.Tasks.Completed != 1 || h.Tasks.Cancelled != 1 || h.Messages != 3 {
		t.Fatalf("header = %+v", h)
	}
	hr, err := s.TaskRecord(ctx, fixture, hourly)
	if err != nil || hr.RunCount != 2 || hr.Recorded != 2 || !hr.Due.Equal(time.Date(2025, 1, 15, 12, 0, 0, 0, time.UTC)) {
		t.Fatalf("hourly task = %+v, %v", hr, err)
	}
	// The occurrence that was running is due again at its own slot.
	f, err := s.TaskRecord(ctx, fixture, inFlight)
	if err != nil || !f.Due.Equal(time.Date(2025, 1, 15, 10, 30, 0, 0, time.UTC)) || !f.NextRunAt.Equal(*f.Due) {
		t.Fatalf("in-flight task = %+v, %v; want it due again at 10:30", f, err)
	}
	live, _, err := s.Tasks(ctx, "main", alice.TaskFilter{Status: alice.TaskActive, ScopeType: alice.ScopeChat, ScopeID: "oc_fixture"}, alice.Page{Limit: 10})
	if err != nil || len(live) != 2 {
		t.Fatalf("active tasks = %+v, %v; want the hourly and the in-flight one", live, err)
	}
	if u, _ := s.Load(ctx, alice.ConversationKey{Bot: "main", Scope: alice.Scope{Type: alice.ScopeUser, ID: "ou_fixture"}}); u.Goal == nil || u.Goal.Description != "User goal" {
		t.Fatalf("user conversation = %+v", u)
	}
	if runs, n, _ := s.Runs(ctx, hourly, alice.Page{Limit: 10}); n != 2 || runs[1].ScheduledAt.Hour() != 11 || runs[1].MessageID == "" {
		t.Fatalf("hourly runs = %+v", runs)
	}
	if ts, key, err := s.Task(ctx, "main", once); err != nil || key != fixture || ts.Status != alice.TaskCompleted || ts.Recorded != 1 {
		t.Fatalf("one-shot = %+v %v %v", ts, key, err)
	}
	if _, total, _ := s.Tasks(ctx, "main", alice.TaskFilter{Status: alice.TaskCancelled}, alice.Page{Limit: 10}); total != 1 {
		t.Fatalf("cancelled count = %d", total)
	}
	if tasks, total, _ := s.Tasks(ctx, "main", alice.TaskFilter{}, alice.Page{Limit: 10}); total != 5 || len(tasks) != 5 || tasks[2].ID != cancelled || tasks[3].ID != future {
		t.Fatalf("all tasks = %d %+v", total, tasks)
	}
	for _, c := range []struct {
		conv  string
		files string
	}{{"oc_v", "[a.txt]"}, {"oc_v/0", "[b.txt c.txt]"}} {
		items, _, err := s.Messages(ctx, chat(c.conv), alice.Page{Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, m := range items {
			names = append(names, m.FileName)
			if _, b, err := s.MessageContent(ctx, chat(c.conv), m.ID); err != nil || string(b) != "contents of "+m.FileName {
				t.Fatalf("%s %s content = %q %v", c.conv, m.FileName, b, err)
			}
		}
		if got := fmt.Sprint(names); got != c.files {
			t.Fatalf("%s holds %s, want %s", c.conv, got, c.files)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	r := checkDir(t, dir)
	if len(r.Problems) > 0 || r.Conversations != 4 || r.Tasks != 5 || r.Runs != 3 || r.Messages != 6 {
		t.Fatalf("check after migrating = %+v", r)
	}
	// Opening again finds the current format and changes nothing.
	s, err = Open(dir, Options{Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if r2 := checkDir(t, dir); fmt.Sprint(r2) != fmt.Sprint(r) {
		t.Fatalf("second open changed the store: %+v, was %+v", r2, r)
	}
}

// TestMigrateFormat1Unreadable opens data dirs in format 1 holding a
// record the migration cannot read: Open must fail naming it, promptly,
// and leave the data dir as it was, so that nothing is lost and the next
// alice can still migrate it once the record is mended.
func TestMigrateFormat1Unreadable(t *testing.T) {
	for _, c := range []struct {
		name, key, value, want string
	}{
		{"snapshot without its format byte", "s/main/chat/oc_bad", `{}`, `snapshot "s/main/chat/oc_bad": not format 1`},
		{"snapshot of an unknown scope", "s/main/group/oc_bad", "\x01{}", `format 1 conversation key "main/group/oc_bad"`},
		{"outbox message without an id", "m/oc_bad", `{}`, `message key "m/oc_bad": no message id`},
		{"run without a number", "r/task_bad/zz", `{}`, `run key "r/task_bad/zz": malformed`},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "store")
			db, err := openBadger(dir, quietLogger())
			if err != nil {
				t.Fatal(err)
			}
			err = newVersions(db).update(func(txn *badger.Txn) error { return txn.Set([]byte(c.key), []byte(c.value)) })
			if err != nil {
				t.Fatal(err)
			}
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}

			opened := make(chan error, 1)
			go func() {
				s, err := Open(dir, Options{Logger: quietLogger()})
				if err == nil {
					s.Close()
				}
				opened <- err
			}()
			select {
			case err = <-opened:
			case <-time.After(30 * time.Second):
				t.Fatal("Open has not returned after 30 s: the failed migration is retried for ever")
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Open = %v; want an error naming %s", err, c.want)
			}

			db, err = openBadger(dir, quietLogger())
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			v := newVersions(db)
			if version, err := readVersion(v); err != nil || version != "" {
				t.Errorf("format version after the failed migration: %q, %v; want none recorded", version, err)
			}
			var keys []string
			err = v.view(func(txn *badger.Txn) error {
				return scanKeys(txn, nil, func(k []byte) error {
					keys = append(keys, string(k))
					return nil
				})
			})
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(keys) != fmt.Sprint([]string{c.key}) {
				t.Errorf("keys after the failed migration = %q; want only %q", keys, c.key)
			}
		})
	}
}

// TestMigrateFormat2 opens a copy of a data dir written by format 2, whose
// runs, outbox messages and idempotency records had no version byte, and
// checks that each now has it and reads back whole, the idempotency record
// with its expiry. Migrating again, as after a crash before the format was
// recorded, leaves the records as they are.
func TestMigrateFormat2(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "store")
	if err := os.CopyFS(dir, os.DirFS("../../testdata/v2-datadir/store")); err != nil {
		t.Fatal(err)
	}
	fixture := chat("oc_fixture")
	future := time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC)
	verify := func(s *Store) {
		t.Helper()
		if h, err := s.Load(ctx, fixture); err != nil || h.Goal == nil || h.Goal.Description != "Format 2 goal" || h.Messages != 2 || h.Tasks.Active != 1 || h.Tasks.Completed != 1 {
			t.Fatalf("header = %+v, %v", h, err)
		}
		runs, n, err := s.Runs(ctx, "task_done", alice.Page{Limit: 10})
		if err != nil || n != 2 || len(runs) != 2 || runs[0].OccurrenceID != "occ_0" || runs[1].MessageID != "om_2" || !runs[1].ScheduledAt.Equal(*at(20)) {
			t.Fatalf("runs = %+v (%d), %v", runs, n, err)
		}
		msgs, _, err := s.Messages(ctx, fixture, alice.Page{Limit: 10})
		if err != nil || len(msgs) != 2 || msgs[0].Text != "hello" || msgs[1].FileName != "c.txt" {
			t.Fatalf("messages = %+v, %v", msgs, err)
		}
		if m, b, err := s.MessageContent(ctx, fixture, "om_2"); err != nil || m.Size != 17 || string(b) != "contents of c.txt" {
			t.Fatalf("om_2 = %+v %q %v", m, b, err)
		}
		rec, err := s.Idempotency(ctx, fixture, "key-1")
		if err != nil || rec == nil || rec.Fingerprint != "fp-1" || string(rec.Answer) != `{"message_id":"om_2"}` || !rec.Expires.Equal(future) {
			t.Fatalf("idempotency record = %+v, %v", rec, err)
		}
		// Every record of the three families starts with the version byte.
		err = s.versions.view(func(txn *badger.Txn) error {
			for _, f := range v2BareFamilies {
				it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{f}, PrefetchValues: true})
				for it.Rewind(); it.Valid(); it.Next() {
					v, err := it.Item().ValueCopy(nil)
					if err != nil {
						it.Close()
						return err
					}
					if len(v) < 2 || v[0] != recordV2 || v[1] != '{' {
						it.Close()
						return fmt.Errorf("record %q = %q, want the version byte and JSON", it.Item().Key(), v)
					}
				}
				it.Close()
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}

	s, err := Open(dir, Options{Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	verify(s)
	if v, err := readVersion(s.versions); err != nil || v != formatCurrent {
		t.Fatalf("format = %q, %v; want %q", v, err, formatCurrent)
	}
	// As if the process died after the records were rewritten and before
	// the format was recorded.
	if err := writeVersion(s.versions, format2); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(dir, Options{Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	verify(s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if r := checkDir(t, dir); len(r.Problems) > 0 || r.Conversations != 1 || r.Tasks != 2 || r.Runs != 2 || r.Messages != 2 {
		t.Fatalf("check after migrating = %+v", r)
	}
}

// TestTaskRecordsLeaveOutTheirKey: a task record holds neither the task's
// id nor its scope, which its key holds, and every way of reading it gives
// them back.
func TestTaskRecordsLeaveOutTheirKey(t *testing.T) {
	s, _ := openTemp(t, Options{})
	c := newConv(t, s, chat("oc_1"))
	c.put(task(c.key, "task_a", alice.TaskActive, at(1)), task(c.key, "task_b", alice.TaskPaused, nil))

	v, ok := value(t, s, string(convKey(famTask, c.key, "task_a")))
	if !ok {
		t.Fatal("task_a has no record")
	}
	for _, field := range []string{"task_a", "oc_1", "chat"} {
		if strings.Contains(v, field) {
			t.Errorf("record %q holds %s", v, field)
		}
	}

	want := func(how string, got alice.Task, id string) {
		t.Helper()
		if got.ID != id || got.Scope() != c.key.Scope {
			t.Errorf("%s: task %q of %v; want %s of %v", how, got.ID, got.Scope(), id, c.key.Scope)
		}
	}
	ts, key, err := s.Task(ctx, "main", "task_a")
	if err != nil || key != c.key {
		t.Fatalf("Task: %v, %v", key, err)
	}
	want("Task", ts.Task, "task_a")
	if ts, err = s.TaskRecord(ctx, c.key, "task_b"); err != nil {
		t.Fatal(err)
	}
	want("TaskRecord", ts.Task, "task_b")
	for _, f := range []alice.TaskFilter{
		{ScopeType: alice.ScopeChat, ScopeID: "oc_1"},                           // the scope's records in turn
		{ScopeType: alice.ScopeChat, ScopeID: "oc_1", Status: alice.TaskPaused}, // by the scope's status index
		{},                         // by the bot's index
		{Status: alice.TaskActive}, // by the bot's status index
	} {
		list, _, err := s.Tasks(ctx, "main", f, alice.Page{Limit: 10})
		if err != nil || len(list) == 0 {
			t.Fatalf("Tasks(%+v) = %v, %v", f, list, err)
		}
		for _, got := range list {
			want(fmt.Sprintf("Tasks(%+v)", f), got, map[alice.TaskStatus]string{alice.TaskActive: "task_a", alice.TaskPaused: "task_b"}[got.Status])
		}
	}
}

// TestCheckFindsATaskRecordOfAnotherTask: a record that names a task or a
// scope other than its key's (as one of format 3 could) is reported, and
// reading it fails rather than answering with the wrong task.
func TestCheckFindsATaskRecordOfAnotherTask(t *testing.T) {
	s, dir := openTemp(t, Options{})
	c := newConv(t, s, chat("oc_1"))
	c.put(task(c.key, "task_a", alice.TaskActive, at(1)))
	other, err := encodeRecord(task(chat("oc_2"), "task_a", alice.TaskActive, at(1)))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.committer.submit(&write{ops: []op{{key: convKey(famTask, c.key, "task_a"), value: other}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.TaskRecord(ctx, c.key, "task_a"); err == nil || !strings.Contains(err.Error(), "holds task task_a of chat/oc_2") {
		t.Errorf("TaskRecord of a record of another scope: %v", err)
	}
	s.Close()
	r := checkDir(t, dir)
	if len(r.Problems) != 1 || !strings.Contains(r.Problems[0], "holds task task_a of chat/oc_2") {
		t.Fatalf("check found %q; want the record of another scope", r.Problems)
	}
}

// TestMigrateFormats3To5 opens copies of data dirs written by formats 3
// and 4, whose task records are JSON (format 3's holding their id and scope
// too), and by format 5, whose records are compact. It checks that each is
// recorded as the current format with the index of format 5 gone and no
// record rewritten, that its tasks read back whole and list by status, and
// that a task written again is written compactly and reads back as well.
func TestMigrateFormats3To5(t *testing.T) {
	origin := &alice.Conversation{ReceiveIDType: alice.ReceiveChatID, ReceiveID: "oc_fixture", ChatType: "group", ActorOpenID: "ou_actor", SessionKey: "session-1"}
	for _, fx := range []struct {
		dir, goal            string
		active, paused, done string
		record               byte                // the version byte of the records written by that format
		origin               *alice.Conversation // of every task
	}{
		{dir: "v3-datadir", goal: "Format 3 goal", record: recordV2,
			active: "task_01m8jf9d2w5gzcr4h2sd2p79nq", paused: "task_01m8jf9d348v7g7kqq8xvwvqt0", done: "task_01m8jf9js4qy9ee0ne1fg9g3v3"},
		{dir: "v4-datadir", goal: "Format 4 goal", record: recordV2, origin: origin,
			active: "task_01m8jm814tycr7xjqee76hehef", paused: "task_01m8jm8155tgexgbzsx2716192", done: "task_01m8jm81bakz4v5g0gp22ydfmb"},
		{dir: "v5-datadir", goal: "Format 5 goal", record: recordTask, origin: origin,
			active: "task_01m8jx3d596x00t03trzna74jg", paused: "task_01m8jx3d5m426ytn19q3a8ckf1", done: "task_01m8jx3db4whqyj847r8spcq7d"},
	} {
		t.Run(fx.dir, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "store")
			if err := os.CopyFS(dir, os.DirFS(filepath.Join("../../testdata", fx.dir, "store"))); err != nil {
				t.Fatal(err)
			}
			fixture := chat("oc_fixture")
			s, err := Open(dir, Options{Logger: quietLogger()})
			if err != nil {
				t.Fatal(err)
			}
			if v, err := readVersion(s.versions); err != nil || v != formatCurrent {
				t.Fatalf("format = %q, %v; want %q", v, err, formatCurrent)
			}
			if n := countFamily(t, s, famConvStatus); n != 0 {
				t.Errorf("%d keys of the conversation status index are left", n)
			}
			h, err := s.Load(ctx, fixture)
			if err != nil || h.Goal == nil || h.Goal.Description != fx.goal || h.Messages != 1 || h.Tasks.Active != 1 || h.Tasks.Paused != 1 || h.Tasks.Completed != 1 {
				t.Fatalf("header = %+v, %v", h, err)
			}
			list, n, err := s.Tasks(ctx, "main", alice.TaskFilter{}, alice.Page{Limit: 10})
			if err != nil || n != 3 || len(list) != 3 {
				t.Fatalf("tasks = %+v (%d), %v", list, n, err)
			}
			for i, want := range []struct {
				id     string
				status alice.TaskStatus
				title  string
			}{{fx.active, alice.TaskActive, "active one-shot"}, {fx.paused, alice.TaskPaused, "daily"}, {fx.done, alice.TaskCompleted, "fired"}} {
				if got := list[i]; got.ID != want.id || got.Scope() != fixture.Scope || got.Status != want.status || got.Title != want.title {
					t.Errorf("task %d = %+v; want %s, %s, %q in %v", i, got, want.id, want.status, want.title, fixture.Scope)
				}
			}
			for _, st := range []alice.TaskStatus{alice.TaskActive, alice.TaskPaused, alice.TaskCompleted} {
				scope := alice.TaskFilter{ScopeType: fixture.Scope.Type, ScopeID: fixture.Scope.ID, Status: st}
				if got, n, err := s.Tasks(ctx, "main", scope, alice.Page{Limit: 10}); err != nil || n != 1 || len(got) != 1 || got[0].Status != st {
					t.Errorf("%s tasks of the conversation = %+v (%d), %v; want one", st, got, n, err)
				}
			}
			active, err := s.TaskRecord(ctx, fixture, fx.active)
			if err != nil || active.Due == nil || !active.Due.Equal(time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC)) || !active.NextRunAt.Equal(*active.Due) {
				t.Fatalf("active task = %+v, %v; want it due at 2099-01-01", active, err)
			}
			if fx.origin != nil && (active.Origin == nil || *active.Origin != *fx.origin) {
				t.Errorf("active task's origin = %+v; want %+v", active.Origin, fx.origin)
			}
			if runs, n, err := s.Runs(ctx, fx.done, alice.Page{Limit: 10}); err != nil || n != 1 || len(runs) != 1 || runs[0].MessageID == "" {
				t.Fatalf("runs of %s = %+v (%d), %v", fx.done, runs, n, err)
			}

			// Written again, compactly; the others stay as they were.
			prev, err := s.TaskRecord(ctx, fixture, fx.paused)
			if err != nil {
				t.Fatal(err)
			}
			next := *prev
			next.Status, next.PausedReason = alice.TaskCancelled, ""
			hNext := h.Clone()
			hNext.Tasks.Add(alice.TaskPaused, -1)
			hNext.Tasks.Add(alice.TaskCancelled, 1)
			if err := s.Commit(ctx, fixture, &persistence.Change{PrevHeader: &h, Header: &hNext, Tasks: []persistence.TaskWrite{{Prev: prev, Next: &next}}}); err != nil {
				t.Fatal(err)
			}
			if got, err := s.TaskRecord(ctx, fixture, fx.paused); err != nil || got.ID != fx.paused || got.Scope() != fixture.Scope || got.Status != alice.TaskCancelled || got.Cron != "0 9 * * *" {
				t.Fatalf("rewritten task = %+v, %v", got, err)
			}
			for id, want := range map[string]byte{fx.active: fx.record, fx.paused: recordTask} {
				if got, ok := value(t, s, string(convKey(famTask, fixture, id))); !ok || got[0] != want {
					t.Errorf("record of %s = %q; want it to start with %d", id, got, want)
				}
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if r := checkDir(t, dir); len(r.Problems) > 0 || r.Conversations != 1 || r.Tasks != 3 || r.Runs != 1 || r.Messages != 1 {
				t.Fatalf("check after migrating = %+v", r)
			}
		})
	}
}

// TestTotalsFollowTheRecords: a bot's conversation, message and task
// counts move with every commit, conversations count once they hold
// anything and stop counting when they are emptied, and check agrees.
func TestTotalsFollowTheRecords(t *testing.T) {
	s, dir := openTemp(t, Options{})
	a, b := newConv(t, s, chat("oc_a")), newConv(t, s, chat("oc_b"))
	a.put(task(a.key, "task_1", alice.TaskActive, at(10)), task(a.key, "task_2", alice.TaskActive, at(20)))
	hb := b.header
	hb.Messages = 2
	hb.Goal = &alice.Goal{ID: "goal_1", Description: "x", Status: alice.GoalInProgress}
	b.commit(&persistence.Change{PrevHeader: &b.header, Header: &hb, Messages: []persistence.MessageWrite{
		{Message: alice.Message{ID: "om_1", Kind: alice.KindText, Text: "one"}}, {Message: alice.Message{ID: "om_2", Kind: alice.KindText, Text: "two"}}}})
	want := func(conversations, messages, tasks int64) {
		t.Helper()
		got, err := s.Totals(ctx, "main")
		if err != nil || got != (Totals{Conversations: conversations, Messages: messages, Tasks: tasks}) {
			t.Fatalf("Totals = %+v, %v; want %d conversations, %d messages, %d tasks", got, err, conversations, messages, tasks)
		}
	}
	want(2, 2, 2)
	a.remove("task_1")
	a.remove("task_2")
	want(1, 2, 0)
	if got, _ := s.Totals(ctx, "other"); got != (Totals{}) {
		t.Fatalf("another bot's totals = %+v", got)
	}
	s.Close()
	if r := checkDir(t, dir); len(r.Problems) > 0 {
		t.Fatalf("check: %v", r.Problems)
	}
}

func TestInUse(t *testing.T) {
	dir := t.TempDir()
	if _, inUse, err := InUse(filepath.Join(dir, "none")); inUse || err != nil {
		t.Fatalf("a missing dir: %v %v", inUse, err)
	}
	s, err := Open(dir, Options{Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	// Badger's lock is a flock, which another open file description in
	// this process does not share: it sees the store as in use.
	if pid, inUse, err := InUse(dir); !inUse || err != nil || pid != os.Getpid() {
		t.Fatalf("an open store: pid %d, %v, %v", pid, inUse, err)
	}
	s.Close()
	if _, inUse, err := InUse(dir); inUse || err != nil {
		t.Fatalf("a closed store: %v %v", inUse, err)
	}
}

// TestOpenRefusesANewerFormat: a data dir that a newer alice has migrated
// is refused, naming its format, and left as it was.
func TestOpenRefusesANewerFormat(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "store")
	db, err := openBadger(dir, quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	if err := writeVersion(newVersions(db), "7"); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	s, err := Open(dir, Options{Logger: quietLogger()})
	if err == nil {
		s.Close()
		t.Fatal("Open succeeded on a data dir of format 7")
	}
	if want := `the data dir is in format "7", which this alice does not know (written by a newer alice?)`; !strings.Contains(err.Error(), want) {
		t.Fatalf("Open = %v; want it to say %s", err, want)
	}
	db, err = openBadger(dir, quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if v, err := readVersion(newVersions(db)); err != nil || v != "7" {
		t.Fatalf("format after the refusal = %q, %v; want 7", v, err)
	}
}
