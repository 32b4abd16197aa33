// Package procgroup keeps, in a file in the data dir, the process groups
// that the runtime's agents run in, so that a runtime killed with SIGKILL
// can stop what its agents left running when it starts again. The kernel
// kills each agent with the runtime (Pdeathsig), but not the processes the
// agent started: those stay in its group, which is how they are found, or
// left it and still carry the run's mark in their environment (KillMarked).
package procgroup

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// Registry records the groups of the agents running now. It is safe for
// concurrent use. Its zero value (or nil) records nothing.
type Registry struct {
	path string
	boot string  // this boot's id; "" where the platform has none
	self process // the runtime keeping the file
	log  *slog.Logger

	mu   sync.Mutex
	live map[int]group // by pgid
}

// group is what the file says of an agent's process group.
type group struct {
	start uint64 // its leader's start time, in ticks since boot
	mark  string // the mark its processes carry; "" when not known
}

// A mark is the environment entry, NAME=value, that every process of an
// agent's run inherits, so that those that leave its group are found too.
// Any process that carries it is killed, so its value must be the run's
// alone: at least 16 lowercase hex digits, as a random id is.
func validMark(m string) bool {
	name, value, ok := strings.Cut(m, "=")
	if !ok || name == "" || len(value) < 16 {
		return false
	}
	for _, c := range name {
		if !(c == '_' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
			return false
		}
	}
	for _, c := range value {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// process names a process across pid reuse: its pid and its start time,
// in clock ticks since boot.
type process struct {
	pid   int
	start uint64
}

// alive reports whether p still runs (the same process, not a later one
// under its pid).
func (p process) alive() bool {
	start, ok := startTime(p.pid)
	return ok && start == p.start
}

// Open stops the groups that the file at path lists and that are still
// running from this boot, then returns a registry that keeps path up to
// date. The caller must own the data dir (hold its lock).
//
// A group is stopped only while its id is provably the agent's: its leader
// (the agent, whose pid is the group's id) is either the recorded process
// or gone, and Linux does not reuse a pid while a group still bears it.
// Nothing is stopped while the runtime that wrote the file still runs: the
// data dir is then a copy, and the groups are that runtime's, not ours.
func Open(path string, log *slog.Logger) (*Registry, error) {
	r := &Registry{path: path, boot: bootID(), log: log, live: map[int]group{}}
	if r.boot == "" {
		return r, nil
	}
	start, ok := startTime(os.Getpid())
	if !ok {
		return nil, fmt.Errorf("read this process's start time in /proc")
	}
	r.self = process{pid: os.Getpid(), start: start}
	groups, marked, err := r.sweep()
	if err != nil {
		log.Warn("the agents' process groups left by the last run could not all be checked", "file", path, "err", err)
	}
	if groups > 0 || marked > 0 {
		log.Warn("stopped what agents left running when the runtime was killed", "groups", groups, "processes_out_of_their_group", marked)
	}
	if err := r.save(); err != nil {
		return nil, err
	}
	return r, nil
}

// Started records that an agent runs in the group pgid, its processes
// marked with mark ("" or one that is not valid: none).
func (r *Registry) Started(pgid int, mark string) {
	if r == nil || r.boot == "" {
		return
	}
	start, ok := startTime(pgid)
	if !ok {
		return // already gone
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if !validMark(mark) {
		mark = ""
	}
	r.live[pgid] = group{start: start, mark: mark}
	r.saveOrWarn()
}

// Ended records that nothing of the group pgid is left running.
func (r *Registry) Ended(pgid int) {
	if r == nil || r.boot == "" {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.live[pgid]; ok {
		delete(r.live, pgid)
		r.saveOrWarn()
	}
}

func (r *Registry) saveOrWarn() {
	if err := r.save(); err != nil {
		r.log.Warn("could not record the agents' process groups; if the runtime is killed, what they started may outlive it", "err", err)
	}
}

// sweep kills the groups listed in the file that are still this boot's,
// and the processes that carry their marks, all of them in one scan; it
// returns how many groups it killed and how many marked processes.
func (r *Registry) sweep() (groups, marked int, err error) {
	data, err := os.ReadFile(r.path)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, 0, nil
	}
	if err != nil {
		return 0, 0, err
	}
	boot, writer, listed, err := parse(data)
	if err != nil {
		return 0, 0, fmt.Errorf("%s: %w", r.path, err)
	}
	if boot != r.boot {
		return 0, 0, nil // the machine restarted since: nothing of that run is left
	}
	if writer.alive() {
		r.log.Warn("the data dir's list of agents' process groups was written by a runtime that still runs (is this data dir a copy?); its agents are left alone", "file", r.path, "pid", writer.pid)
		return 0, 0, nil
	}
	// A mark is its run's alone, whatever became of the run's group.
	var marks []string
	for _, g := range listed {
		if g.mark != "" {
			marks = append(marks, g.mark)
		}
	}
	marked = KillMarked(marks...)
	for pgid, g := range listed {
		if now, alive := startTime(pgid); alive && now != g.start {
			continue // the id names another process now
		}
		if err := syscall.Kill(-pgid, syscall.SIGKILL); err == nil {
			groups++
		}
	}
	return groups, marked, nil
}

// save writes the file whole, through a rename, so that a runtime killed
// mid-write leaves the previous version. No sync: a killed process loses
// nothing the kernel holds, and a machine that stops takes the groups down
// with it (and the next boot has another id).
func (r *Registry) save() error {
	var b bytes.Buffer
	fmt.Fprintf(&b, "boot %s\nruntime %d %d\n", r.boot, r.self.pid, r.self.start)
	for pgid, g := range r.live {
		fmt.Fprintf(&b, "%d %d", pgid, g.start)
		if g.mark != "" {
			fmt.Fprintf(&b, " %s", g.mark)
		}
		b.WriteByte('\n')
	}
	tmp, err := os.CreateTemp(filepath.Dir(r.path), filepath.Base(r.path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // fails harmlessly once renamed
	if _, err := tmp.Write(b.Bytes()); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), r.path)
}

// parse reads "boot ID", "runtime PID START", and then one "PGID START" or
// "PGID START MARK" a line (files written before marks have none).
func parse(data []byte) (boot string, writer process, groups map[int]group, err error) {
	s := bufio.NewScanner(bytes.NewReader(data))
	if !s.Scan() {
		return "", process{}, nil, errors.New("empty")
	}
	boot, ok := strings.CutPrefix(s.Text(), "boot ")
	if !ok || boot == "" {
		return "", process{}, nil, fmt.Errorf("line 1 is %q, not the boot id", s.Text())
	}
	if !s.Scan() {
		return "", process{}, nil, errors.New("line 2, the runtime, is missing")
	}
	rest, ok := strings.CutPrefix(s.Text(), "runtime ")
	if ok {
		writer, ok = parseProcess(strings.Fields(rest))
	}
	if !ok {
		return "", process{}, nil, fmt.Errorf("line 2 is %q, not the runtime's pid and start time", s.Text())
	}
	groups = map[int]group{}
	for line := 3; s.Scan(); line++ {
		f := strings.Fields(s.Text())
		var mark string
		if len(f) == 3 && validMark(f[2]) {
			mark, f = f[2], f[:2]
		}
		g, ok := parseProcess(f)
		if !ok || g.pid <= 1 { // kill(-1) would reach every process
			return "", process{}, nil, fmt.Errorf("line %d is %q, not a group, a start time and a mark", line, s.Text())
		}
		groups[g.pid] = group{start: g.start, mark: mark}
	}
	return boot, writer, groups, s.Err()
}

// parseProcess reads the fields "PID" "START".
func parseProcess(f []string) (process, bool) {
	if len(f) != 2 {
		return process{}, false
	}
	pid, err1 := strconv.Atoi(f[0])
	start, err2 := strconv.ParseUint(f[1], 10, 64)
	if err1 != nil || err2 != nil || pid <= 0 {
		return process{}, false
	}
	return process{pid: pid, start: start}, true
}
