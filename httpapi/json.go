package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/alice-runtime/alice"
)

// decodeJSON decodes the request body into dst strictly: the body must be
// one JSON object with no unknown fields, no wrong types and nothing after
// it. An empty body decodes as {} when emptyOK. A missing Content-Type and
// curl -d's default form type are accepted so that plain curl works.
func decodeJSON(r *http.Request, dst any, emptyOK bool) error {
	if err := checkJSONContentType(r.Header.Get("Content-Type")); err != nil {
		return err
	}
	data, err := io.ReadAll(r.Body) // bounded by the middleware's MaxBytesReader
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return err
		}
		return alice.Errorf(alice.EInvalid, "could not read the request body: %v", err)
	}
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		if emptyOK {
			return nil
		}
		return alice.Errorf(alice.EInvalid, "request body is empty; send a JSON object")
	}
	if trimmed[0] != '{' {
		return alice.Errorf(alice.EInvalid, "request body must be a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return alice.Errorf(alice.EInvalid, "unexpected data after the JSON object")
	}
	return nil
}

func checkJSONContentType(ct string) error {
	if ct == "" {
		return nil
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return alice.Errorf(alice.EInvalid, "Content-Type %q is malformed", ct)
	}
	switch {
	case mt == "application/json", strings.HasSuffix(mt, "+json"),
		mt == "application/x-www-form-urlencoded", // curl -d's default
		mt == "text/plain":
		return nil
	}
	return alice.Errorf(alice.EInvalid, "Content-Type %s is not JSON; send application/json", mt)
}

// jsonError turns encoding/json's errors into messages that name the
// problem the way an API caller sees it.
func jsonError(err error) error {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		return alice.Errorf(alice.EInvalid, "invalid JSON at byte %d: %v", syntax.Offset, err)
	case errors.As(err, &typ) && typ.Field != "":
		return alice.Errorf(alice.EInvalid, "field %q must be %s, not %s", typ.Field, jsonKind(typ.Type.Kind().String()), typ.Value)
	case errors.As(err, &typ):
		return alice.Errorf(alice.EInvalid, "request body must be a JSON object, not %s", typ.Value)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return alice.Errorf(alice.EInvalid, "invalid JSON: the body ends early")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return alice.Errorf(alice.EInvalid, "unknown field %s", strings.TrimPrefix(err.Error(), "json: unknown field "))
	}
	return alice.Errorf(alice.EInvalid, "invalid JSON: %v", err)
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "int", "int64", "int32", "uint", "uint64", "float64":
		return "a number"
	case "slice", "array":
		return "an array"
	case "map", "struct", "ptr":
		return "an object"
	}
	return fmt.Sprintf("a %s", goKind)
}
