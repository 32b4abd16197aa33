// Command syncstall measures how long a small synced append waits while
// something else in the same process writes and syncs files of a given
// size: what a commit of the store's write-ahead log meets while badger
// writes a table. It prints the sync latencies for each burst size:
//
//	go run ./testdata/syncstall -dir /path/on/the/disk/to/measure
//
// Each round appends 40 KB (a commit of about 16 task creates) to a log
// file and syncs it, a thousand or so times a second, while a writer
// fills files of -burst megabytes, about a megabyte every 2 ms, and syncs
// each. With -prezero the log file is written with zeros and synced
// before the round, and appends are synced with fdatasync: nothing about
// the file's blocks changes, so no file-system journal commit is needed.
// If the stalls stay, they come from the device's queue, not the journal.
// With -empty-sync each commit also syncs a second file that nothing was
// written to, as badger syncs its value log after every commit even when
// every value went into the write-ahead log: the latency is then that of
// both syncs. With -chunk the writer starts each file's writeback in steps
// of that many KB and waits for each step before the final sync, as a
// table builder could between commits: what such a change to badger's
// table writes would give the log's syncs.
package main

import (
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

const (
	logSize   = 256 << 20 // the log file wraps around at this size
	appendLen = 40 << 10
)

func main() {
	dir := flag.String("dir", ".", "`directory` on the file system to measure; the tool works in a fresh subdirectory and removes it")
	bursts := flag.String("burst", "0,2,8,16,64", "comma-separated burst sizes in `MB`; 0 measures with no writer")
	round := flag.Duration("round", 8*time.Second, "how long each burst size is measured")
	prezero := flag.Bool("prezero", false, "write the log file with zeros first and sync appends with fdatasync")
	emptySync := flag.Bool("empty-sync", false, "after each append's sync, also sync a file nothing was written to")
	chunkKB := flag.Int("chunk", 0, "write each burst file back in steps of this many `KB` before its sync; 0 syncs it whole")
	flag.Parse()
	if *chunkKB < 0 {
		log.Fatalf("-chunk: %d is not a size in KB", *chunkKB)
	}

	work, err := os.MkdirTemp(*dir, "syncstall-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(work)

	fmt.Printf("%-8s %8s %10s %10s %10s %10s\n", "burst", "syncs", "p50", "p99", "p99.9", "max")
	for _, s := range strings.Split(*bursts, ",") {
		mb, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || mb < 0 {
			log.Fatalf("-burst: %q is not a size in MB", s)
		}
		lat, err := measure(work, mb, int64(*chunkKB)<<10, *round, *prezero, *emptySync)
		if err != nil {
			log.Fatal(err)
		}
		q := func(p float64) time.Duration { return lat[int(float64(len(lat)-1)*p)] }
		fmt.Printf("%-8s %8d %10v %10v %10v %10v\n", fmt.Sprintf("%d MB", mb), len(lat),
			q(.5).Round(time.Microsecond), q(.99).Round(time.Microsecond), q(.999).Round(time.Microsecond), lat[len(lat)-1].Round(time.Microsecond))
	}
}

// measure returns the sorted latencies of the appends' syncs during one
// round with a writer of burstMB-sized files (none when 0), written back in
// steps of chunk bytes (whole when 0).
func measure(dir string, burstMB int, chunk int64, round time.Duration, prezero, emptySync bool) ([]time.Duration, error) {
	f, err := os.OpenFile(filepath.Join(dir, "log"), os.O_CREATE|os.O_TRUNC|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	idle, err := os.OpenFile(filepath.Join(dir, "idle"), os.O_CREATE|os.O_TRUNC|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	defer idle.Close()
	if err := idle.Truncate(64 << 20); err != nil {
		return nil, err
	}
	if err := idle.Sync(); err != nil {
		return nil, err
	}
	sync := f.Sync
	if prezero {
		zeros := make([]byte, 1<<20)
		for range logSize / len(zeros) {
			if _, err := f.Write(zeros); err != nil {
				return nil, err
			}
		}
		if err := f.Sync(); err != nil {
			return nil, err
		}
		sync = func() error { return unix.Fdatasync(int(f.Fd())) }
	} else if err := f.Truncate(logSize); err != nil { // sparse, as badger's log files are
		return nil, err
	}

	stop := make(chan struct{})
	writerErr := make(chan error, 1)
	if burstMB > 0 {
		go func() { writerErr <- writeBursts(dir, burstMB, chunk, stop) }()
	} else {
		writerErr <- nil
	}

	rec := make([]byte, appendLen)
	var lat []time.Duration
	var off int64
	for end := time.Now().Add(round); time.Now().Before(end); {
		if _, err := f.WriteAt(rec, off); err != nil {
			close(stop)
			return nil, err
		}
		off = (off + appendLen) % (logSize - appendLen)
		start := time.Now()
		err := sync()
		if err == nil && emptySync {
			err = idle.Sync()
		}
		if err != nil {
			close(stop)
			return nil, err
		}
		lat = append(lat, time.Since(start))
		time.Sleep(time.Millisecond) // the next commit's batch gathering
	}
	close(stop)
	if err := <-writerErr; err != nil {
		return nil, err
	}
	slices.Sort(lat)
	return lat, nil
}

// writeBursts writes files of mb megabytes in turn, a megabyte about every
// 2 ms as a table builder would, and syncs each, until stop closes. With a
// chunk, each file's pages are written back a chunk at a time first, so
// the device never holds more than a chunk of it in its queue.
func writeBursts(dir string, mb int, chunk int64, stop <-chan struct{}) error {
	buf := make([]byte, 1<<20)
	for i := 0; ; i++ {
		name := filepath.Join(dir, fmt.Sprintf("table-%d", i%4))
		t, err := os.Create(name)
		if err != nil {
			return err
		}
		for j := range mb {
			buf[0] = byte(j) // not all pages alike
			if _, err := t.Write(buf); err != nil {
				t.Close()
				return err
			}
			time.Sleep(2 * time.Millisecond)
		}
		if err := writeBack(t, int64(mb)<<20, chunk); err != nil {
			t.Close()
			return err
		}
		if err := t.Sync(); err != nil {
			t.Close()
			return err
		}
		if err := t.Close(); err != nil {
			return err
		}
		select {
		case <-stop:
			return nil
		default:
		}
	}
}

// writeBack writes the first size bytes of f to the device in steps of
// chunk bytes, waiting for each; nothing when chunk is 0. No step flushes
// the device's cache: the final sync does that once.
func writeBack(f *os.File, size, chunk int64) error {
	if chunk == 0 {
		return nil
	}
	const flags = unix.SYNC_FILE_RANGE_WAIT_BEFORE | unix.SYNC_FILE_RANGE_WRITE | unix.SYNC_FILE_RANGE_WAIT_AFTER
	for off := int64(0); off < size; off += chunk {
		if err := unix.SyncFileRange(int(f.Fd()), off, min(chunk, size-off), flags); err != nil {
			return fmt.Errorf("writing back %s: %w", f.Name(), err)
		}
	}
	return nil
}
