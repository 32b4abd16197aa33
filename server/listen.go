package server

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/alice-runtime/alice/config"
)

// botListeners are a bot's bound listeners: TCP, a unix socket, or both.
type botListeners struct {
	tcp, unix net.Listener
}

func listen(b config.Bot) (l botListeners, err error) {
	if b.Addr != "" {
		if l.tcp, err = net.Listen("tcp", b.Addr); err != nil {
			return l, fmt.Errorf("listen on %s: %w", b.Addr, err)
		}
	}
	if b.Socket != "" {
		if l.unix, err = listenUnix(b.Socket); err != nil {
			l.close()
			return l, fmt.Errorf("listen on %s: %w", b.Socket, err)
		}
	}
	return l, nil
}

// url is what an agent is told to call the bot back at.
func (l botListeners) url() string {
	if l.tcp != nil {
		return "http://" + l.tcp.Addr().String()
	}
	return "unix://" + l.unix.Addr().String()
}

func (l botListeners) close() {
	for _, ln := range []net.Listener{l.tcp, l.unix} {
		if ln != nil {
			ln.Close()
		}
	}
}

// listenUnix listens on a unix socket that only its owner may use. A
// socket file left by a server that died is replaced; one a live server
// answers on is not, and neither is a file that is not a socket.
func listenUnix(path string) (net.Listener, error) {
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode()&os.ModeSocket == 0 {
			return nil, errors.New("the path exists and is not a socket")
		}
		if conn, err := net.Dial("unix", path); err == nil {
			conn.Close()
			return nil, errors.New("another server is listening on this socket")
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("remove the stale socket: %w", err)
		}
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, err
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, err
	}
	return ln, nil
}

// connLimit bounds a bot's open connections. At the bound, a new
// connection takes the place of the one idle the longest (kept alive
// between requests, or connected and silent); when every connection is in
// the middle of a request, the new one is closed at once rather than left
// waiting. Silent and idle connections therefore cannot starve new ones,
// and busy ones are bounded by the server's read and write timeouts.
type connLimit struct {
	max   int
	mu    sync.Mutex
	conns map[net.Conn]*connState
}

type connState struct {
	busy      bool      // reading or serving a request
	idleSince time.Time // when it last became idle (or connected)
}

func newConnLimit(max int) *connLimit {
	return &connLimit{max: max, conns: map[net.Conn]*connState{}}
}

// admit decides whether c may be served, evicting the longest-idle
// connection when the bound is reached.
func (l *connLimit) admit(c net.Conn) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.conns) >= l.max {
		var victim net.Conn
		var since time.Time
		for vc, st := range l.conns {
			if !st.busy && (victim == nil || st.idleSince.Before(since)) {
				victim, since = vc, st.idleSince
			}
		}
		if victim == nil {
			return false
		}
		delete(l.conns, victim)
		victim.Close()
	}
	l.conns[c] = &connState{idleSince: time.Now()}
	return true
}

// track follows the server's view of each connection (http.Server.ConnState).
func (l *connLimit) track(c net.Conn, s http.ConnState) {
	l.mu.Lock()
	defer l.mu.Unlock()
	st := l.conns[c]
	switch s {
	case http.StateActive:
		if st != nil {
			st.busy = true
		}
	case http.StateIdle:
		if st != nil {
			st.busy, st.idleSince = false, time.Now()
		}
	case http.StateClosed, http.StateHijacked:
		delete(l.conns, c)
	}
}

// busy counts the connections in the middle of a request.
func (l *connLimit) busy() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, st := range l.conns {
		if st.busy {
			n++
		}
	}
	return n
}

// listener admits the connections of ln through l.
func (l *connLimit) listener(ln net.Listener) net.Listener { return &limitedListener{ln, l} }

type limitedListener struct {
	net.Listener
	limit *connLimit
}

func (ll *limitedListener) Accept() (net.Conn, error) {
	for {
		c, err := ll.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if ll.limit.admit(c) {
			return c, nil
		}
		c.Close()
	}
}
