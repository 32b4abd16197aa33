package badgerstore

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/alice-runtime/alice"
	"github.com/alice-runtime/alice/messenger"
	"github.com/alice-runtime/alice/messenger/outbox"
	"github.com/alice-runtime/alice/persistence"
)

func openTemp(t *testing.T) *Store {
	t.Helper()
	s, err := Open(t.TempDir(), quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func taskState(id string, status alice.TaskStatus, next *time.Time) *alice.TaskState {
	return &alice.TaskState{Task: alice.Task{ID: id, ScopeType: alice.ScopeChat, ScopeID: "oc_1", Action: alice.ActionSendText, Text: "hi", Status: status, NextRunAt: next}}
}

func at(min int) *time.Time {
	t := time.Date(2025, 1, 15, 9, min, 0, 0, time.UTC)
	return &t
}

func TestIndexesFollowTheSnapshot(t *testing.T) {
	s := openTemp(t)
	ctx := context.Background()
	key := alice.ConversationKey{Bot: "main", Scope: alice.Scope{Type: alice.ScopeChat, ID: "oc_1"}}
	dueIDs := func(by time.Time) []string {
		due, err := s.DueBy(ctx, by, 100)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, d := range due {
			if d.Key != key {
				t.Fatalf("due entry for %v, want %v", d.Key, key)
			}
			ids = append(ids, fmt.Sprintf("%s@%d", d.TaskID, d.At.Minute()))
		}
		return ids
	}

	var prev alice.Snapshot
	save := func(next alice.Snapshot, runs []alice.RunRecord) error {
		err := s.Save(ctx, key, prev, next, runs)
		if err == nil {
			prev = next
		}
		return err
	}

	// Two active tasks: both indexed, due in time order.
	a, b := taskState("task_a", alice.TaskActive, at(30)), taskState("task_b", alice.TaskActive, at(10))
	if err := save(alice.Snapshot{Tasks: []*alice.TaskState{a, b}}, nil); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(dueIDs(*at(59))); got != "[task_b@10 task_a@30]" {
		t.Fatalf("due = %s", got)
	}
	if got := fmt.Sprint(dueIDs(*at(20))); got != "[task_b@10]" {
		t.Fatalf("due by :20 = %s", got)
	}
	if next, ok, _ := s.NextDue(ctx, *at(10)); !ok || !next.Equal(*at(30)) {
		t.Fatalf("NextDue after :10 = %v %v, want :30", next, ok)
	}

	// Move a, cancel b: the index follows; the task index shows the change.
	a2, b2 := taskState("task_a", alice.TaskActive, at(40)), taskState("task_b", alice.TaskCancelled, nil)
	if err := save(alice.Snapshot{Tasks: []*alice.TaskState{a2, b2}}, nil); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(dueIDs(*at(59))); got != "[task_a@40]" {
		t.Fatalf("due after move = %s", got)
	}
	got, owner, err := s.Task(ctx, "main", "task_b")
	if err != nil || got.Status != alice.TaskCancelled || owner != key {
		t.Fatalf("Task(task_b) = %+v %v %v", got, owner, err)
	}
	if _, _, err := s.Task(ctx, "other-bot", "task_b"); alice.ErrorCode(err) != alice.ENotFound {
		t.Fatalf("another bot sees the task: %v", err)
	}

	// An in-flight occurrence keeps its scheduled time in the index.
	a3 := *a2
	a3.InFlight = &alice.Occurrence{ID: "occ", ScheduledAt: *at(40), StartedAt: *at(41)}
	a3.NextRunAt = at(50)
	runs := []alice.RunRecord{}
	for seq := 0; seq < alice.MaxRunsKeptPerTask+3; seq++ {
		runs = append(runs, alice.RunRecord{TaskID: "task_a", Seq: seq, Run: alice.Run{OccurrenceID: fmt.Sprint("occ_", seq), Outcome: alice.OutcomeSkipped}})
	}
	if err := save(alice.Snapshot{Tasks: []*alice.TaskState{&a3, b2}}, runs); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(dueIDs(*at(59))); got != "[task_a@40]" {
		t.Fatalf("due while in flight = %s", got)
	}
	list, total, err := s.Runs(ctx, "task_a", 0, 2)
	if err != nil || total != alice.MaxRunsKeptPerTask || len(list) != 2 || list[0].OccurrenceID != "occ_3" {
		t.Fatalf("runs = %+v total %d err %v; want the newest %d kept, oldest first", list, total, err, alice.MaxRunsKeptPerTask)
	}

	// Delete task a: its index entries and runs go with it.
	if err := save(alice.Snapshot{Tasks: []*alice.TaskState{b2}}, nil); err != nil {
		t.Fatal(err)
	}
	if got := dueIDs(*at(59)); len(got) != 0 {
		t.Fatalf("due after delete = %v", got)
	}
	if _, _, err := s.Task(ctx, "main", "task_a"); alice.ErrorCode(err) != alice.ENotFound {
		t.Fatalf("deleted task still indexed: %v", err)
	}
	if _, total, _ := s.Runs(ctx, "task_a", 0, 10); total != 0 {
		t.Fatalf("deleted task still has %d runs", total)
	}
}

func TestTasksListFiltersAndPages(t *testing.T) {
	s := openTemp(t)
	ctx := context.Background()
	chat := alice.ConversationKey{Bot: "main", Scope: alice.Scope{Type: alice.ScopeChat, ID: "oc_1"}}
	user := alice.ConversationKey{Bot: "main", Scope: alice.Scope{Type: alice.ScopeUser, ID: "ou_1"}}
	var chatTasks, userTasks []*alice.TaskState
	for i := 0; i < 5; i++ {
		status := alice.TaskActive
		if i%2 == 1 {
			status = alice.TaskCancelled
		}
		ct := taskState(fmt.Sprintf("task_%02d", 2*i), status, nil)
		ut := taskState(fmt.Sprintf("task_%02d", 2*i+1), alice.TaskActive, nil)
		ut.ScopeType, ut.ScopeID = alice.ScopeUser, "ou_1"
		chatTasks, userTasks = append(chatTasks, ct), append(userTasks, ut)
	}
	s.Save(ctx, chat, alice.Snapshot{}, alice.Snapshot{Tasks: chatTasks}, nil)
	s.Save(ctx, user, alice.Snapshot{}, alice.Snapshot{Tasks: userTasks}, nil)
	other := alice.ConversationKey{Bot: "other", Scope: chat.Scope}
	s.Save(ctx, other, alice.Snapshot{}, alice.Snapshot{Tasks: []*alice.TaskState{taskState("task_99", alice.TaskActive, nil)}}, nil)

	ids := func(ts []alice.Task) string {
		out := ""
		for _, t := range ts {
			out += t.ID[5:] + " "
		}
		return out
	}
	tests := []struct {
		name          string
		f             persistence.TaskFilter
		offset, limit int
		want          string
		total         int
	}{
		{"all in creation order", persistence.TaskFilter{Bot: "main"}, 0, 50, "00 01 02 03 04 05 06 07 08 09 ", 10},
		{"page", persistence.TaskFilter{Bot: "main"}, 3, 4, "03 04 05 06 ", 10},
		{"past the end", persistence.TaskFilter{Bot: "main"}, 20, 5, "", 10},
		{"status", persistence.TaskFilter{Bot: "main", Status: alice.TaskCancelled}, 0, 50, "02 06 ", 2},
		{"scope type", persistence.TaskFilter{Bot: "main", Scope: &alice.Scope{Type: alice.ScopeUser}}, 0, 50, "01 03 05 07 09 ", 5},
		{"scope", persistence.TaskFilter{Bot: "main", Scope: &chat.Scope}, 1, 2, "02 04 ", 5},
		{"other bot", persistence.TaskFilter{Bot: "other"}, 0, 50, "99 ", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, total, err := s.Tasks(ctx, tt.f, tt.offset, tt.limit)
			if err != nil || ids(got) != tt.want || total != tt.total {
				t.Fatalf("Tasks = %q total %d err %v; want %q total %d", ids(got), total, err, tt.want, tt.total)
			}
		})
	}
}

func TestOutboxIdempotentPutAndRead(t *testing.T) {
	s := openTemp(t)
	ctx := context.Background()
	ids := alice.NewIDs(alice.SystemClock{})
	box := outbox.New("main", s, alice.SystemClock{}, ids, outbox.Retention{MaxMessages: 100})
	chat := messenger.TargetOf(alice.Scope{Type: alice.ScopeChat, ID: "oc_1"})

	first, err := box.Send(ctx, chat, messenger.Message{Kind: messenger.KindText, Text: "hello", IdempotencyKey: "occ_1"})
	if err != nil {
		t.Fatal(err)
	}
	again, err := box.Send(ctx, chat, messenger.Message{Kind: messenger.KindText, Text: "hello", IdempotencyKey: "occ_1"})
	if err != nil || again != first {
		t.Fatalf("resend with the same key = %q, %v; want %q", again, err, first)
	}
	file, err := box.Send(ctx, chat, messenger.Message{Kind: messenger.KindFile, FileName: "a.txt", Data: []byte("abc"), Caption: "c"})
	if err != nil {
		t.Fatal(err)
	}
	items, total, err := box.List(ctx, chat.Scope, 0, 10)
	if err != nil || total != 2 || items[0].ID != first || items[1].ID != file {
		t.Fatalf("List = %+v total %d err %v", items, total, err)
	}
	if items[1].Size != 3 || items[1].SHA256 != "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" {
		t.Fatalf("file metadata = %+v", items[1])
	}
	it, content, err := box.Content(ctx, chat.Scope, file)
	if err != nil || string(content) != "abc" || it.FileName != "a.txt" {
		t.Fatalf("Content = %+v %q %v", it, content, err)
	}
	if _, _, err := box.Content(ctx, alice.Scope{Type: alice.ScopeChat, ID: "oc_2"}, file); alice.ErrorCode(err) != alice.ENotFound {
		t.Fatalf("another conversation reads the message: %v", err)
	}
}
