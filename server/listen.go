package server

import (
	"errors"
	"fmt"
	"net"
	"os"

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
