package httpapi

import (
	"net/http"
	"net/url"
	"strconv"

	"github.com/alice-runtime/alice"
)

// MaxPageSize is the contract's bound on list endpoints.
const MaxPageSize = 200

// query reads a list endpoint's query string: only the named parameters,
// each at most once, so a typo is an error instead of a silently ignored
// filter.
func query(r *http.Request, allowed ...string) (url.Values, error) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, alice.Errorf(alice.EInvalid, "malformed query string: %v", err)
	}
	known := map[string]bool{}
	for _, k := range allowed {
		known[k] = true
	}
	for k, v := range q {
		if !known[k] {
			return nil, alice.Errorf(alice.EInvalid, "unknown query parameter %q", truncate(k, 64))
		}
		if len(v) > 1 {
			return nil, alice.Errorf(alice.EInvalid, "query parameter %s is given %d times", k, len(v))
		}
	}
	return q, nil
}

// listQuery reads a list endpoint's query string: limit and offset, and the
// extra parameters the endpoint allows.
func listQuery(r *http.Request, extra ...string) (q url.Values, offset, limit int, err error) {
	if q, err = query(r, append([]string{"limit", "offset"}, extra...)...); err != nil {
		return nil, 0, 0, err
	}
	offset, limit, err = page(q)
	return q, offset, limit, err
}

// page reads limit (1–200, default 50) and offset (>= 0, default 0).
func page(q url.Values) (offset, limit int, err error) {
	limit, offset = 50, 0
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > MaxPageSize {
			return 0, 0, alice.Errorf(alice.EInvalid, "limit %q must be a whole number from 1 to %d", truncate(s, 32), MaxPageSize)
		}
		limit = n
	}
	if s := q.Get("offset"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return 0, 0, alice.Errorf(alice.EInvalid, "offset %q must be a whole number, 0 or more", truncate(s, 32))
		}
		offset = n
	}
	return offset, limit, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// writeList writes a page of items with the total in X-Total-Count.
func writeList[T any](w http.ResponseWriter, r *http.Request, items []T, total int) {
	if items == nil {
		items = []T{}
	}
	w.Header().Set("X-Total-Count", strconv.Itoa(total))
	writeJSON(w, r, http.StatusOK, items)
}
