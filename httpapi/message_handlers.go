package httpapi

import (
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"path"
	"path/filepath"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/julienschmidt/httprouter"

	"github.com/alice-runtime/alice"
	"github.com/alice-runtime/alice/media"
	"github.com/alice-runtime/alice/wire"
)

// maxFieldBytes bounds a text part of a multipart upload (caption, filename).
const maxFieldBytes = 64 << 10

var errMessagesOff = &alice.Error{Code: alice.EForbidden, Message: "sending messages is disabled for this bot (permissions.runtime_message is false)"}

// upload is a parsed multipart message request.
type upload struct {
	data     []byte
	fileName string            // as uploaded
	fields   map[string]string // the text parts
}

// readUpload reads a multipart/form-data body with exactly one file part
// named fileField and optional text parts named in fields. The body is
// streamed part by part; the middleware's limit stops it at 1 MB.
func readUpload(r *http.Request, fileField string, fields ...string) (*upload, error) {
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" || params["boundary"] == "" {
		return nil, alice.Errorf(alice.EInvalid, "the request must be multipart/form-data with a boundary (for example: curl -F %s=@FILE)", fileField)
	}
	allowed := map[string]bool{}
	for _, f := range fields {
		allowed[f] = true
	}
	up := &upload{fields: map[string]string{}}
	seenFile, parts := false, 0
	mr := multipart.NewReader(r.Body, params["boundary"])
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, multipartError(err)
		}
		parts++
		name := part.FormName()
		switch {
		case name == fileField:
			if seenFile {
				return nil, alice.Errorf(alice.EInvalid, "only one %s part is allowed", fileField)
			}
			seenFile = true
			if up.data, err = io.ReadAll(part); err != nil {
				return nil, multipartError(err)
			}
			up.fileName = part.FileName()
		case allowed[name]:
			if _, dup := up.fields[name]; dup {
				return nil, alice.Errorf(alice.EInvalid, "only one %s part is allowed", name)
			}
			value, err := io.ReadAll(io.LimitReader(part, maxFieldBytes+1))
			if err != nil {
				return nil, multipartError(err)
			}
			if len(value) > maxFieldBytes {
				return nil, alice.Errorf(alice.EInvalid, "%s is longer than %d bytes", name, maxFieldBytes)
			}
			if !utf8.Valid(value) {
				return nil, alice.Errorf(alice.EInvalid, "%s is not valid UTF-8", name)
			}
			up.fields[name] = string(value)
		default:
			want := append([]string{fileField}, fields...)
			return nil, alice.Errorf(alice.EInvalid, "unexpected part %s; the parts are %s", alice.Quote(name), strings.Join(want, ", "))
		}
		part.Close()
	}
	if parts == 0 {
		return nil, alice.Errorf(alice.EInvalid, "malformed multipart body: no part delimited by the boundary %s", alice.Quote(params["boundary"]))
	}
	keyField := fileField + "_key"
	switch {
	case seenFile && up.fields[keyField] != "":
		return nil, alice.Errorf(alice.EInvalid, "send either the %s part or %s, not both", fileField, keyField)
	case !seenFile && up.fields[keyField] == "":
		return nil, alice.Errorf(alice.EInvalid, "missing part %s (the file to send), or %s (a key the platform already holds)", fileField, keyField)
	case seenFile && len(up.data) == 0:
		return nil, alice.Errorf(alice.EInvalid, "the %s is empty", fileField)
	}
	return up, nil
}

func multipartError(err error) error {
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return err
	}
	return alice.Errorf(alice.EInvalid, "malformed multipart body: %s", alice.Quote(err.Error()))
}

// cleanFileName keeps the base name, without control characters, at most
// 255 bytes; "" when nothing usable is left.
func cleanFileName(name string) string {
	name = filepath.Base(path.Base(strings.ReplaceAll(name, `\`, "/")))
	name = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, name)
	if name == "." || name == "/" || name == ".." {
		return ""
	}
	for len(name) > 255 {
		_, size := utf8.DecodeLastRuneInString(name)
		name = name[:len(name)-size]
	}
	return strings.TrimSpace(name)
}

func (a *api) sendImage(w http.ResponseWriter, r *http.Request) {
	a.send(w, r, alice.KindImage, "caption", "image_key")
}

func (a *api) sendFile(w http.ResponseWriter, r *http.Request) {
	a.send(w, r, alice.KindFile, "filename", "caption", "file_key")
}

// send is the common path of the message endpoints: permission, the
// conversation, the upload, then the bot's message service, replying to the
// triggering message when the request names one. The part carrying the
// bytes is named after the kind ("image", "file").
func (a *api) send(w http.ResponseWriter, r *http.Request, kind alice.MessageKind, fields ...string) {
	if !a.cfg.Permissions.Message {
		a.fail(w, r, errMessagesOff)
		return
	}
	conv, err := conversation(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	up, err := readUpload(r, string(kind), fields...)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	name := cleanFileName(up.fields["filename"])
	if name == "" {
		name = cleanFileName(up.fileName)
	}
	m := alice.Outgoing{
		Kind: kind, Data: up.data, Key: up.fields[string(kind)+"_key"], FileName: name,
		Caption: up.fields["caption"], ReplyTo: conv.SourceMessageID,
	}
	id, err := a.cfg.Messages.SendMessage(r.Context(), conv, alice.MessageSend{Message: m, IdempotencyKey: r.Header.Get(wire.HeaderIdempotencyKey)})
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, r, http.StatusOK, map[string]string{"message_id": id})
}

func (a *api) listMessages(w http.ResponseWriter, r *http.Request) {
	_, page, err := listQuery(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	conv, err := conversation(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	items, total, err := a.cfg.Messages.ListMessages(r.Context(), conv, page)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeList(w, r, items, total)
}

func (a *api) messageContent(w http.ResponseWriter, r *http.Request) {
	conv, err := conversation(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	id := httprouter.ParamsFromContext(r.Context()).ByName("messageID")
	item, data, err := a.cfg.Messages.MessageContent(r.Context(), conv, id)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	h := w.Header()
	switch item.Kind {
	case alice.KindText:
		data = []byte(item.Text)
		h.Set("Content-Type", "text/plain; charset=utf-8")
	case alice.KindImage:
		img, err := media.DetectImage(data)
		if err != nil {
			a.fail(w, r, err)
			return
		}
		h.Set("Content-Type", img.ContentType)
		h.Set("Content-Disposition", mime.FormatMediaType("inline", map[string]string{"filename": item.FileName}))
	default:
		ct := mime.TypeByExtension(filepath.Ext(item.FileName))
		if ct == "" {
			ct = http.DetectContentType(data)
		}
		h.Set("Content-Type", ct)
		h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": item.FileName}))
	}
	h.Set("X-Content-Type-Options", "nosniff")
	if r.Method != http.MethodHead {
		w.Write(data)
	}
}
