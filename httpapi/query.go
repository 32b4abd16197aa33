package httpapi

import (
	"net/http"
	"net/url"
	"strconv"

	"github.com/alice-runtime/alice"
	"github.com/alice-runtime/alice/wire"
)

// query reads a list endpoint's query string: only the named parameters,
// each at most once, so a typo is an error instead of a silently ignored
// filter.
func query(r *http.Request, allowed ...string) (url.Values, error) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, alice.Errorf(alice.EInvalid, "malformed query string: %s", alice.Quote(err.Error()))
	}
	known := map[string]bool{}
	for _, k := range allowed {
		known[k] = true
	}
	for k, v := range q {
		if !known[k] {
			return nil, alice.Errorf(alice.EInvalid, "unknown query parameter %s", alice.Quote(k))
		}
		if len(v) > 1 {
			return nil, alice.Errorf(alice.EInvalid, "query parameter %s is given %d times", k, len(v))
		}
	}
	return q, nil
}

// listQuery reads a list endpoint's query string: limit (1–200, default
// 50), offset (0 or more, default 0) and the extra parameters the endpoint
// allows.
func listQuery(r *http.Request, extra ...string) (url.Values, alice.Page, error) {
	q, err := query(r, append([]string{"limit", "offset"}, extra...)...)
	if err != nil {
		return nil, alice.Page{}, err
	}
	p := alice.Page{Limit: 50}
	for _, f := range []struct {
		name string
		dst  *int
		min  int
	}{{"limit", &p.Limit, 1}, {"offset", &p.Offset, 0}} {
		s := q.Get(f.name)
		if s == "" {
			continue
		}
		n, err := strconv.Atoi(s)
		if err != nil || n < f.min || (f.name == "limit" && n > alice.MaxPageSize) {
			if f.name == "limit" {
				return nil, alice.Page{}, alice.Errorf(alice.EInvalid, "limit %s must be a whole number from 1 to %d", alice.Quote(s), alice.MaxPageSize)
			}
			return nil, alice.Page{}, alice.Errorf(alice.EInvalid, "offset %s must be a whole number, 0 or more", alice.Quote(s))
		}
		*f.dst = n
	}
	return q, p, nil
}

// writeList writes a page of items with the total in X-Total-Count.
func writeList[T any](w http.ResponseWriter, r *http.Request, items []T, total int) {
	if items == nil {
		items = []T{}
	}
	w.Header().Set(wire.HeaderTotalCount, strconv.Itoa(total))
	writeJSON(w, r, http.StatusOK, items)
}
