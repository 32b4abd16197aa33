package server

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	"github.com/alice-runtime/alice/api"
)

// openAPIRouter is the OpenAPI document's router, loaded once for the
// package's tests.
var openAPIRouter = sync.OnceValues(func() (routers.Router, error) {
	data, err := api.JSON()
	if err != nil {
		return nil, err
	}
	doc, err := openapi3.NewLoader().LoadFromData(data)
	if err != nil {
		return nil, err
	}
	doc.Servers = nil // match paths on whatever port a test server has
	return legacy.NewRouter(doc)
})

// checkAgainstOpenAPI validates an answer of the server against the
// OpenAPI document: a status the operation does not list, a header or a
// body that does not match its schema, fails the test. Every request of
// the package's black-box tests passes through it; requests to routes the
// API does not have are left to the tests that send them.
func checkAgainstOpenAPI(t testing.TB, req *http.Request, status int, header http.Header, body []byte) {
	t.Helper()
	router, err := openAPIRouter()
	if err != nil {
		t.Fatalf("openapi: %v", err)
	}
	route, params, err := router.FindRoute(req)
	if err != nil {
		return // no such route or method: not the document's to describe
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route,
			Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}},
		Status: status, Header: header, Body: io.NopCloser(bytes.NewReader(body)),
		Options: &openapi3filter.Options{IncludeResponseStatus: true},
	}
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		t.Fatalf("%s %s → %d does not match the OpenAPI document: %v\nbody: %.300s", req.Method, req.URL.Path, status, err, body)
	}
}

// TestOpenAPIIsServed: the document is served without a token.
func TestOpenAPIIsServed(t *testing.T) {
	in := start(t, t.TempDir(), "", Options{})
	a := in.do(call{method: "GET", path: "/openapi.json", token: ptr("")})
	want, _ := api.JSON()
	if a.status != 200 || a.header.Get("Content-Type") != "application/json" || !bytes.Equal(a.body, want) {
		t.Fatalf("GET /openapi.json: %d %s %.100s", a.status, a.header.Get("Content-Type"), a.body)
	}
}
