package httpapi

import (
	"errors"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strings"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/alice-runtime/alice"
)

// decodeJSON decodes the request body into dst strictly: one JSON object,
// names matched case-sensitively, no unknown, duplicate or mistyped member,
// valid UTF-8 without lone surrogates, nothing after it. An empty body
// decodes as {} when emptyOK. A missing Content-Type and curl -d's default
// form type are accepted so that plain curl works.
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
	if len(strings.TrimSpace(string(data))) == 0 {
		if emptyOK {
			return nil
		}
		return alice.Errorf(alice.EInvalid, "request body is empty; send a JSON object")
	}
	if err := json.Unmarshal(data, dst, json.RejectUnknownMembers(true)); err != nil {
		return jsonError(err)
	}
	return nil
}

func checkJSONContentType(ct string) error {
	if ct == "" {
		return nil
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return alice.Errorf(alice.EInvalid, "Content-Type %s is malformed", alice.Quote(ct))
	}
	switch {
	case mt == "application/json", strings.HasSuffix(mt, "+json"),
		mt == "application/x-www-form-urlencoded", // curl -d's default
		mt == "text/plain":
		return nil
	}
	return alice.Errorf(alice.EInvalid, "Content-Type %s is not JSON; send application/json", alice.Quote(mt))
}

// jsonError turns the decoder's errors into messages that name the problem
// the way an API caller sees it: which field, and what was wrong with it.
func jsonError(err error) error {
	var sem *json.SemanticError
	var syn *jsontext.SyntacticError
	switch {
	case errors.As(err, &syn):
		field := fieldName(syn.JSONPointer)
		switch {
		case errors.Is(syn.Err, jsontext.ErrDuplicateName):
			return alice.Errorf(alice.EInvalid, "field %s is given more than once", field)
		case strings.Contains(syn.Err.Error(), "invalid UTF-8"):
			return alice.Errorf(alice.EInvalid, "the body is not valid UTF-8 (in %s)", orBody(field))
		case strings.Contains(syn.Err.Error(), "surrogate"):
			return alice.Errorf(alice.EInvalid, "invalid JSON string in %s: a lone UTF-16 surrogate", orBody(field))
		case strings.Contains(syn.Err.Error(), "after top-level value"):
			return alice.Errorf(alice.EInvalid, "unexpected data after the JSON object")
		case errors.Is(syn.Err, io.ErrUnexpectedEOF):
			return alice.Errorf(alice.EInvalid, "invalid JSON: the body ends early")
		}
		return alice.Errorf(alice.EInvalid, "invalid JSON at byte %d: %s", syn.ByteOffset, alice.Quote(syn.Err.Error()))
	case errors.As(err, &sem):
		field := fieldName(sem.JSONPointer)
		switch {
		case errors.Is(sem.Err, json.ErrUnknownName):
			return alice.Errorf(alice.EInvalid, "unknown field %s", field)
		case sem.JSONPointer == "":
			return alice.Errorf(alice.EInvalid, "request body must be a JSON object, not %s", jsonKind(sem.JSONKind))
		}
		return alice.Errorf(alice.EInvalid, "field %s must be %s, not %s", field, goKind(sem.GoType), jsonKind(sem.JSONKind))
	}
	return alice.Errorf(alice.EInvalid, "invalid JSON: %s", alice.Quote(err.Error()))
}

// fieldName is the member a JSON pointer names, quoted and bounded.
func fieldName(p jsontext.Pointer) string {
	name := string(p)
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		name = name[i+1:]
	}
	return alice.Quote(strings.NewReplacer("~1", "/", "~0", "~").Replace(name))
}

func orBody(field string) string {
	if field == `""` {
		return "the body"
	}
	return "field " + field
}

func jsonKind(k jsontext.Kind) string {
	switch k {
	case '"':
		return "a string"
	case '0':
		return "a number"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	case '{':
		return "an object"
	case '[':
		return "an array"
	}
	return "that"
}

// goKind names what a Go type accepts; a Field[T] accepts what T does.
func goKind(t reflect.Type) string {
	if t == nil {
		return "something else"
	}
	if t.Kind() == reflect.Struct {
		if f, ok := t.FieldByName("Value"); ok && strings.HasPrefix(t.Name(), "Field[") {
			t = f.Type
		}
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int64, reflect.Int32, reflect.Uint, reflect.Uint64, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array"
	}
	return "an object"
}
