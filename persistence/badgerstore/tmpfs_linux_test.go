package badgerstore

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/alice-runtime/alice"
	"github.com/alice-runtime/alice/persistence"
)

// TestFullTmpfs fills a real, small file system (a 512 MB tmpfs) with the
// real free-space check: writes are refused with storage_full before badger
// could hit the end of the disk (where it would die of SIGBUS), reads go
// on, and writing resumes when space is freed. Mounting needs root; where
// the test cannot mount, it says so and skips (the injected-free-space test
// above covers the logic everywhere).
func TestFullTmpfs(t *testing.T) {
	mnt := t.TempDir()
	if err := unix.Mount("tmpfs", mnt, "tmpfs", 0, "size=512m"); err != nil {
		t.Skipf("cannot mount a tmpfs here (%v); the full-disk logic is tested with an injected free-space function", err)
	}
	t.Cleanup(func() { unix.Unmount(mnt, unix.MNT_DETACH) })

	const minFree = 192 << 20
	free := func() uint64 { n, _ := StatfsFreeSpace(mnt); return n }
	// A ballast file leaves the store a little more than its margin.
	ballast := filepath.Join(mnt, "ballast")
	if err := os.WriteFile(ballast, make([]byte, free()-minFree-48<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := Open(filepath.Join(mnt, "store"), Options{Logger: quietLogger(), MinFreeDisk: minFree})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	key := chat("oc_full")
	var h alice.Header
	send := func(i int) error {
		next := h.Clone()
		next.Messages++
		m := alice.Message{ID: fmt.Sprintf("om_%06d", i), Kind: alice.KindFile, FileName: "blob"}
		err := s.Commit(ctx, key, &persistence.Change{PrevHeader: &h, Header: &next,
			Messages: []persistence.MessageWrite{{Message: m, Content: bytes.Repeat([]byte{byte(i)}, 900<<10)}}})
		if err == nil {
			h = next
		}
		return err
	}
	written, refused := 0, false
	for i := 0; i < 1000 && !refused; i++ {
		switch err := send(i); {
		case err == nil:
			written++
		case alice.ErrorCode(err) == alice.EStorageFull:
			refused = true
		default:
			t.Fatalf("write %d: %v", i, err)
		}
	}
	if !refused || written == 0 {
		t.Fatalf("%d writes, refused %v: the guard never refused on a filling disk", written, refused)
	}
	// Badger goes on flushing memtables in the background, which can free
	// some of what it holds (the values here compress well) and lift the
	// disk back over the margin. A second ballast takes the free space
	// below the margin by more than the whole store occupies, so nothing
	// badger frees can make the disk look healthy again.
	topUp := filepath.Join(mnt, "ballast2")
	var extra uint64
	if target := minFree - diskUsage(t, filepath.Join(mnt, "store")); free() > target {
		extra = free() - target
	}
	if err := os.WriteFile(topUp, make([]byte, extra), 0o600); err != nil {
		t.Fatal(err)
	}
	if alice.ErrorCode(s.Health()) != alice.EStorageFull {
		t.Fatalf("health on a full disk: %v", s.Health())
	}
	if _, total, err := s.Messages(ctx, key, alice.Page{Limit: 1}); err != nil || total != written {
		t.Fatalf("reads on a full disk: total %d, %v; want the %d acknowledged", total, err, written)
	}
	for _, f := range []string{ballast, topUp} {
		if err := os.Remove(f); err != nil {
			t.Fatal(err)
		}
	}
	if err := send(written); err != nil {
		t.Fatalf("a write after space returned: %v", err)
	}
	if s.Health() != nil {
		t.Fatalf("health after space returned: %v", s.Health())
	}
}

// diskUsage is the space the files under dir occupy on their file system.
func diskUsage(t *testing.T, dir string) uint64 {
	t.Helper()
	var used uint64
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		var st unix.Stat_t
		if err := unix.Lstat(path, &st); err != nil {
			return err
		}
		used += uint64(st.Blocks) * 512
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return used
}
