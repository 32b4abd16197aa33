package badgerstore

import (
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/dgraph-io/badger/v4"
)

func TestAReadSeesTheCommitsAnsweredBeforeItBegan(t *testing.T) {
	s, _ := openTemp(t, Options{})
	if err := s.committer.submit(newWrite("old", "zk")); err != nil {
		t.Fatal(err)
	}
	err := s.versions.view(func(txn *badger.Txn) error {
		// Answered while this read is under way: it is not part of it.
		if err := s.committer.submit(newWrite("new", "zk")); err != nil {
			return err
		}
		item, err := txn.Get([]byte("zk"))
		if err != nil {
			return err
		}
		if v, _ := item.ValueCopy(nil); string(v) != "old" {
			t.Errorf("a read begun before the commit saw %q", v)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := value(t, s, "zk"); v != "new" {
		t.Fatalf("a read begun after the commit was answered saw %q, want new", v)
	}
}

func TestCompactionKeepsWhatTheOldestReadNeeds(t *testing.T) {
	s, _ := openTemp(t, Options{})
	v := s.versions
	commit := func() uint64 {
		t.Helper()
		if err := s.committer.submit(newWrite("v", "zk")); err != nil {
			t.Fatal(err)
		}
		return v.discardable()
	}
	newest := func() uint64 {
		v.mu.Lock()
		defer v.mu.Unlock()
		return v.last
	}
	first := commit()
	if first != newest() {
		t.Fatalf("with no read under way the discard bound is %d, want the newest commit %d", first, newest())
	}

	older, newer := make(chan struct{}), make(chan struct{})
	hold := func(started, release chan struct{}) chan error {
		done := make(chan error, 1)
		go func() {
			done <- v.view(func(*badger.Txn) error {
				close(started)
				<-release
				return nil
			})
		}()
		<-started
		return done
	}
	releaseOlder, releaseNewer := make(chan struct{}), make(chan struct{})
	olderDone := hold(older, releaseOlder)
	commit()
	second := newest() // what the newer read reads at
	newerDone := hold(newer, releaseNewer)
	commit()

	if got := v.discardable(); got != first {
		t.Fatalf("discard bound with reads at %d and %d under way = %d, want the oldest, %d", first, second, got, first)
	}
	close(releaseOlder)
	if err := <-olderDone; err != nil {
		t.Fatal(err)
	}
	if got := v.discardable(); got != second {
		t.Fatalf("discard bound after the oldest read ended = %d, want %d", got, second)
	}
	close(releaseNewer)
	if err := <-newerDone; err != nil {
		t.Fatal(err)
	}
	if got := v.discardable(); got != newest() {
		t.Fatalf("discard bound with no read under way = %d, want the newest commit %d", got, newest())
	}
}

// Writes after a restart must get newer timestamps than every write before
// it, or a read would keep finding the old values. Both kinds of data dir are
// covered: this store's, and one written in badger's own mode, as every
// data dir was before the store picked timestamps.
func TestWritesAfterAReopenAreNewer(t *testing.T) {
	for _, tc := range []struct {
		name  string
		write func(t *testing.T, dir string)
	}{
		{"written by the store", func(t *testing.T, dir string) {
			s, err := Open(dir, Options{Logger: quietLogger()})
			if err != nil {
				t.Fatal(err)
			}
			for range 3 {
				if err := s.committer.submit(newWrite("before", "zk")); err != nil {
					t.Fatal(err)
				}
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
		}},
		{"written in badger's own mode", func(t *testing.T, dir string) {
			db, err := badger.Open(badger.DefaultOptions(dir).WithLogger(nil))
			if err != nil {
				t.Fatal(err)
			}
			for range 3 {
				if err := db.Update(func(txn *badger.Txn) error { return txn.Set([]byte("zk"), []byte("before")) }); err != nil {
					t.Fatal(err)
				}
			}
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "store")
			tc.write(t, dir)
			s, err := Open(dir, Options{Logger: quietLogger()})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if v, _ := value(t, s, "zk"); v != "before" {
				t.Fatalf("after reopening, zk = %q, want before", v)
			}
			if err := s.committer.submit(newWrite("after", "zk")); err != nil {
				t.Fatal(err)
			}
			if v, _ := value(t, s, "zk"); v != "after" {
				t.Fatalf("after a write following the reopen, zk = %q, want after", v)
			}
		})
	}
}

func TestAReadOfAClosedStoreFails(t *testing.T) {
	s, _ := openTemp(t, Options{})
	s.Close()
	err := s.versions.view(func(*badger.Txn) error { return nil })
	if !errors.Is(err, badger.ErrDBClosed) {
		t.Fatalf("read of a closed store: %v, want badger.ErrDBClosed", err)
	}
}

// Commits of many keys race reads of them: a read sees each commit whole
// or not at all.
func TestAReadNeverSeesPartOfACommit(t *testing.T) {
	s, _ := openTemp(t, Options{})
	keys := make([]string, 200)
	for i := range keys {
		keys[i] = fmt.Sprintf("zk/%03d", i)
	}
	stop := make(chan struct{})
	written := make(chan error, 1)
	go func() {
		defer close(written)
		for n := 0; ; n++ {
			select {
			case <-stop:
				return
			default:
			}
			if err := s.committer.submit(newWrite(strconv.Itoa(n), keys...)); err != nil {
				written <- err
				return
			}
		}
	}()
	for range 300 {
		err := s.versions.view(func(txn *badger.Txn) error {
			seen := map[string]bool{}
			for _, k := range keys {
				item, err := txn.Get([]byte(k))
				if errors.Is(err, badger.ErrKeyNotFound) {
					seen["none"] = true
					continue
				}
				if err != nil {
					return err
				}
				v, err := item.ValueCopy(nil)
				if err != nil {
					return err
				}
				seen[string(v)] = true
			}
			if len(seen) != 1 {
				t.Errorf("one read saw the keys of %d different commits: %v", len(seen), seen)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	if err := <-written; err != nil {
		t.Fatal(err)
	}
}
