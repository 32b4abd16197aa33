package badgerstore

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// InUse reports whether a process holds the store in dir open, and that
// process's pid when it says. It takes badger's directory lock for an
// instant to find out, so it must not run in the process that has the
// store open.
func InUse(dir string) (pid int, inUse bool, err error) {
	d, err := os.Open(dir)
	if errors.Is(err, os.ErrNotExist) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	defer d.Close()
	switch err := unix.Flock(int(d.Fd()), unix.LOCK_EX|unix.LOCK_NB); {
	case err == nil:
		unix.Flock(int(d.Fd()), unix.LOCK_UN)
		return 0, false, nil
	case errors.Is(err, unix.EWOULDBLOCK):
		data, _ := os.ReadFile(filepath.Join(dir, "LOCK"))
		pid, _ = strconv.Atoi(strings.TrimSpace(string(data)))
		return pid, true, nil
	default:
		return 0, false, err
	}
}
