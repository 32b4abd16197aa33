package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"time"
)

// conns are the load's keep-alive connections, one per worker, each used
// only by its worker's goroutine. A request is written with net/http's
// Request.Write and its answer read with http.ReadResponse, on the
// worker's own goroutine, and only an error's answer is kept. The Go
// client's Transport instead hands every request to a writer goroutine
// and every answer back from a reader goroutine of the connection, and
// the client decodes every answer: on two cores that made this tool use
// about half as much CPU per request as the server it measures, CPU the
// server then did not have (BENCHMARKS.md, "The generator").
type conns struct {
	host  string // host:port
	token string
	c     []*conn
}

type conn struct {
	nc net.Conn
	br *bufio.Reader
	bw *bufio.Writer
}

// requestTimeout bounds one request, as the Client's timeout does.
const requestTimeout = time.Minute

func newConns(base, token string, workers int) (*conns, error) {
	u, err := url.Parse(base)
	if err != nil {
		return nil, err
	}
	if u.Scheme != "http" {
		return nil, fmt.Errorf("%s: only http:// is measured", base)
	}
	return &conns{host: u.Host, token: token, c: make([]*conn, workers)}, nil
}

// close closes every connection.
func (cs *conns) close() {
	for i, c := range cs.c {
		if c != nil {
			c.nc.Close()
			cs.c[i] = nil
		}
	}
}

// post sends a POST of body (JSON; nil for none) on worker w's connection,
// with the conversation headers when chatID is not empty, and checks that
// the answer has status want. The answer's body is read and dropped.
func (cs *conns) post(w int, path, chatID string, body []byte, want int) error {
	req, err := http.NewRequest(http.MethodPost, "http://"+cs.host+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+cs.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if chatID != "" {
		req.Header.Set("X-Alice-Receive-Id-Type", "chat_id")
		req.Header.Set("X-Alice-Receive-Id", chatID)
	}
	status, answer, err := cs.do(w, req)
	if err != nil {
		return fmt.Errorf("POST %s: %w", path, err)
	}
	if status != want {
		return fmt.Errorf("POST %s: status %d, want %d: %s", path, status, want, bytes.TrimSpace(answer))
	}
	return nil
}

// do sends req on worker w's connection, dialling it first when there is
// none, and returns the answer's status and, for an error status, its
// body. A connection that failed, or that the server closes, is dropped;
// the next request dials a new one.
func (cs *conns) do(w int, req *http.Request) (int, []byte, error) {
	c := cs.c[w]
	if c == nil {
		nc, err := net.DialTimeout("tcp", cs.host, requestTimeout)
		if err != nil {
			return 0, nil, err
		}
		c = &conn{nc: nc, br: bufio.NewReader(nc), bw: bufio.NewWriter(nc)}
		cs.c[w] = c
	}
	status, body, keep, err := c.roundTrip(req)
	if !keep {
		c.nc.Close()
		cs.c[w] = nil
	}
	return status, body, err
}

// roundTrip sends req and reads its answer; keep says whether the
// connection can carry another request, and is false after any error.
func (c *conn) roundTrip(req *http.Request) (status int, body []byte, keep bool, err error) {
	c.nc.SetDeadline(time.Now().Add(requestTimeout))
	if err := req.Write(c.bw); err != nil {
		return 0, nil, false, err
	}
	if err := c.bw.Flush(); err != nil {
		return 0, nil, false, err
	}
	resp, err := http.ReadResponse(c.br, req)
	if err != nil {
		return 0, nil, false, err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		body, err = io.ReadAll(io.LimitReader(resp.Body, 4096))
	}
	if err == nil {
		_, err = io.Copy(io.Discard, resp.Body) // the rest, so the connection can be reused
	}
	return resp.StatusCode, body, err == nil && !resp.Close, err
}
