package badgerstore

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/dgraph-io/badger/v4"

	"github.com/alice-runtime/alice"
)

// newWrite is a write of the given keys, each set to value.
func newWrite(value string, keys ...string) *write {
	w := &write{done: make(chan error, 1)}
	for _, k := range keys {
		w.ops = append(w.ops, op{key: []byte(k), value: []byte(value)})
	}
	return w
}

func value(t *testing.T, s *Store, k string) (string, bool) {
	t.Helper()
	var v []byte
	err := s.versions.view(func(txn *badger.Txn) error {
		item, err := txn.Get([]byte(k))
		if err != nil {
			return err
		}
		v, err = item.ValueCopy(nil)
		return err
	})
	if errors.Is(err, badger.ErrKeyNotFound) {
		return "", false
	}
	if err != nil {
		t.Fatal(err)
	}
	return string(v), true
}

// The tests below hand batches to commit directly, as the committer's loop
// does, so that which writes share a batch is certain.

func TestFailedBatchFailsEveryWriter(t *testing.T) {
	s, _ := openTemp(t, Options{})
	good1, good2 := newWrite("v", "zk/1"), newWrite("v", "zk/2")
	bad := newWrite("v", "zk/3")
	bad.ops = append(bad.ops, op{key: nil, value: []byte("x")}) // badger refuses an empty key
	s.committer.commit([]*write{good1, bad, good2})
	for i, w := range []*write{good1, bad, good2} {
		if err := <-w.done; err == nil {
			t.Fatalf("writer %d was acknowledged although its batch failed", i)
		}
	}
	for _, k := range []string{"zk/1", "zk/2", "zk/3"} {
		if _, ok := value(t, s, k); ok {
			t.Fatalf("%s was written by a failed batch", k)
		}
	}
	// The committer goes on: the next batch commits.
	if err := s.committer.submit(newWrite("v", "zk/4")); err != nil {
		t.Fatalf("after a failed batch: %v", err)
	}
}

func TestBatchesSplitAtBadgersLimitsAndKeepWritesWhole(t *testing.T) {
	s, _ := openTemp(t, Options{})
	big := bytes.Repeat([]byte("x"), int(s.committer.maxBytes/5)) // five fill a transaction
	var batch []*write
	for i := 0; i < 12; i++ {
		w := &write{done: make(chan error, 1)}
		for j := 0; j < 2; j++ { // two entries per write, which must land together
			w.ops = append(w.ops, op{key: fmt.Appendf(nil, "zb/%02d/%d", i, j), value: big})
		}
		batch = append(batch, w)
	}
	before := s.Stats().Batches
	s.committer.commit(batch)
	for i, w := range batch {
		if err := <-w.done; err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
		for j := 0; j < 2; j++ {
			if _, ok := value(t, s, fmt.Sprintf("zb/%02d/%d", i, j)); !ok {
				t.Fatalf("write %d lost entry %d", i, j)
			}
		}
	}
	if n := s.Stats().Batches - before; n < 5 {
		t.Fatalf("24 entries of a fifth of the limit each went in %d transactions; they cannot fit in fewer than 5", n)
	}
}

func TestTooLargeWriteFailsAlone(t *testing.T) {
	s, _ := openTemp(t, Options{})
	huge := &write{done: make(chan error, 1), ops: []op{{key: []byte("zh/huge"), value: make([]byte, s.committer.maxBytes)}}}
	small := newWrite("v", "zh/small")
	s.committer.commit([]*write{huge, small})
	if err := <-huge.done; alice.ErrorCode(err) != alice.EInvalid {
		t.Fatalf("write over the limit: %v, want invalid", err)
	}
	if err := <-small.done; err != nil {
		t.Fatalf("the write beside it: %v", err)
	}
}

func TestLaterWriteOfAKeyWins(t *testing.T) {
	s, _ := openTemp(t, Options{})
	// The same key written by consecutive writes of one batch, and across
	// a split: the last write in queue order holds.
	big := bytes.Repeat([]byte("x"), int(s.committer.maxBytes/3))
	batch := []*write{newWrite("1", "zo/k"), {done: make(chan error, 1), ops: []op{{key: []byte("zo/fill"), value: big}}}, newWrite("2", "zo/k"),
		{done: make(chan error, 1), ops: []op{{key: []byte("zo/fill2"), value: big}}}, newWrite("3", "zo/k")}
	s.committer.commit(batch)
	for _, w := range batch {
		if err := <-w.done; err != nil {
			t.Fatal(err)
		}
	}
	if v, _ := value(t, s, "zo/k"); v != "3" {
		t.Fatalf("zo/k = %q, want the last write's 3", v)
	}
}

func TestCountersAddUpAcrossConcurrentWriters(t *testing.T) {
	s, dir := openTemp(t, Options{})
	const writers, each = 16, 50
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				d := int64(1)
				if i%5 == 0 {
					d = -1
				}
				if err := s.committer.submit(&write{counters: []counterDelta{{id: counterID{"bot", "test"}, delta: d}}}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	want := int64(writers * (each - 2*each/5))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2, err := Open(dir, Options{Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if v, _ := value(t, s2, string(counterID{"bot", "test"}.key())); v != string(encodeCount(want)) {
		n, _ := decodeCount([]byte(v))
		t.Fatalf("counter after reopening = %d, want %d", n, want)
	}
}
