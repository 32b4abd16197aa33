package badgerstore

import (
	"fmt"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/alice-runtime/alice"
)

// DefaultMinFreeDisk is the free space below which writes are refused. Badger
// maps its write-ahead memtables and value-log files into memory and grows
// them in place; writing to such a page when the file system is full kills
// the process with SIGBUS instead of returning an error. The margin covers
// what badger may still write while writes are refused: three memtables
// (16 MB each, their files up to twice that), one value-log file (64 MB),
// and compactions, which write new tables before deleting old ones.
const DefaultMinFreeDisk = 256 << 20

// FreeSpace reports the bytes available to an unprivileged writer on the
// file system of dir.
type FreeSpace func(dir string) (uint64, error)

// StatfsFreeSpace is FreeSpace from statfs(2).
func StatfsFreeSpace(dir string) (uint64, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return 0, fmt.Errorf("statfs %s: %w", dir, err)
	}
	return st.Bavail * uint64(st.Bsize), nil
}

// spaceGuard refuses writes while the data dir's file system has less than
// min bytes free, and lets them through again as soon as space returns: it
// asks the file system before every batch (statfs costs about a
// microsecond).
type spaceGuard struct {
	dir  string
	min  uint64
	free FreeSpace
	low  atomic.Bool // the last check found too little space
}

func (g *spaceGuard) check() error {
	if g.min == 0 {
		return nil
	}
	free, err := g.free(g.dir)
	if err != nil {
		// Not knowing is not a reason to stop writing; badger will say
		// if it cannot write.
		return nil
	}
	if free < g.min {
		g.low.Store(true)
		return alice.Errorf(alice.EStorageFull, "the data dir %s has %s free, less than min_free_disk (%s); writes resume by themselves when space is freed",
			g.dir, humanBytes(free), humanBytes(g.min))
	}
	g.low.Store(false)
	return nil
}

func humanBytes(n uint64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}
