package badgerstore

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/alice-runtime/alice"
)

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func TestSaveLoadAcrossReopen(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	key := alice.ConversationKey{Bot: "main", Scope: alice.Scope{Type: alice.ScopeChat, ID: "oc_1"}}
	other := alice.ConversationKey{Bot: "main", Scope: alice.Scope{Type: alice.ScopeUser, ID: "oc_1"}}
	at := time.Date(2025, 1, 15, 9, 0, 0, 0, time.UTC)
	want := alice.Snapshot{Goal: &alice.Goal{ID: "goal_1", Description: "d", Status: alice.GoalInProgress, CreatedAt: at, UpdatedAt: at}}

	s, err := Open(dir, quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s.Load(ctx, key); err != nil || got.Goal != nil {
		t.Fatalf("Load of a new conversation = %+v, %v; want zero snapshot", got, err)
	}
	if err := s.Save(ctx, key, alice.Snapshot{}, want, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}

	s, err = Open(dir, quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, err := s.Load(ctx, key)
	if err != nil || got.Goal == nil || *got.Goal != *want.Goal {
		t.Fatalf("after reopen Load = %+v, %v; want %+v", got.Goal, err, want.Goal)
	}
	if got, _ := s.Load(ctx, other); got.Goal != nil {
		t.Fatalf("a user scope with the same id saw the chat's goal: %+v", got.Goal)
	}
}

func TestClosedStoreIsUnavailable(t *testing.T) {
	s, err := Open(t.TempDir(), quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	key := alice.ConversationKey{Bot: "main", Scope: alice.Scope{Type: alice.ScopeChat, ID: "oc_1"}}
	if err := s.Save(context.Background(), key, alice.Snapshot{}, alice.Snapshot{}, nil); alice.ErrorCode(err) != alice.EUnavailable {
		t.Fatalf("Save on a closed store: %v (code %q), want %s", err, alice.ErrorCode(err), alice.EUnavailable)
	}
}
