// Package feishutest is a local Feishu Open Platform for tests: it speaks
// the documented token, upload and message endpoints (multipart field names,
// {code, msg, data} envelopes, uuid dedupe, token rejection) and records
// every request so tests can check what a client sent.
package feishutest

import (
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
)

// Request is one recorded request.
type Request struct {
	Path          string
	Query         string
	Authorization string
	Fields        map[string]string // multipart text fields, or JSON body fields
	FileField     string            // multipart file part name
	FileName      string
	FileData      []byte
}

// Failure is a scripted answer for the next request to a path.
type Failure struct {
	Status int
	Code   int
	Msg    string
}

// Server is the fake platform.
type Server struct {
	*httptest.Server
	AppID, AppSecret string
	ExpireSeconds    int // lifetime of issued tokens; default 7200

	mu         sync.Mutex
	requests   []Request
	tokenCalls int
	valid      map[string]bool
	failures   map[string][]Failure
	byUUID     map[string]string
	nextID     int
}

// New starts a fake platform for one app.
func New(appID, appSecret string) *Server {
	s := &Server{AppID: appID, AppSecret: appSecret, ExpireSeconds: 7200,
		valid: map[string]bool{}, failures: map[string][]Failure{}, byUUID: map[string]string{}}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// Requests returns the recorded requests (token requests excluded).
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// TokenCalls counts tenant access token requests.
func (s *Server) TokenCalls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tokenCalls
}

// RevokeTokens makes every issued token invalid, as expiry would.
func (s *Server) RevokeTokens() {
	s.mu.Lock()
	s.valid = map[string]bool{}
	s.mu.Unlock()
}

// FailNext scripts the next answers for path (without query).
func (s *Server) FailNext(path string, f ...Failure) {
	s.mu.Lock()
	s.failures[path] = append(s.failures[path], f...)
	s.mu.Unlock()
}

func (s *Server) answer(w http.ResponseWriter, status, code int, msg string, data any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	body := map[string]any{"code": code, "msg": msg}
	if data != nil {
		body["data"] = data
	}
	json.NewEncoder(w).Encode(body)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r.Method != http.MethodPost {
		s.answer(w, 404, 404, "not found", nil)
		return
	}
	if r.URL.Path == "/open-apis/auth/v3/tenant_access_token/internal" {
		s.issueToken(w, r)
		return
	}
	req := Request{Path: r.URL.Path, Query: r.URL.RawQuery, Authorization: r.Header.Get("Authorization"), Fields: map[string]string{}}
	if err := s.readBody(r, &req); err != nil {
		s.answer(w, 400, 9499, "bad request: "+err.Error(), nil)
		return
	}
	s.requests = append(s.requests, req)
	if q := s.failures[r.URL.Path]; len(q) > 0 {
		f := q[0]
		s.failures[r.URL.Path] = q[1:]
		s.answer(w, f.Status, f.Code, f.Msg, nil)
		return
	}
	if !s.valid[strings.TrimPrefix(req.Authorization, "Bearer ")] {
		s.answer(w, 400, 99991663, "Invalid access token for authorization. Please make a request with token attached.", nil)
		return
	}
	s.nextID++
	switch {
	case r.URL.Path == "/open-apis/im/v1/images":
		if req.Fields["image_type"] != "message" || req.FileField != "image" || len(req.FileData) == 0 {
			s.answer(w, 400, 234001, "Invalid request param.", nil)
			return
		}
		s.answer(w, 200, 0, "success", map[string]string{"image_key": fmt.Sprintf("img_v3_%d", s.nextID)})
	case r.URL.Path == "/open-apis/im/v1/files":
		switch req.Fields["file_type"] {
		case "opus", "mp4", "pdf", "doc", "xls", "ppt", "stream":
		default:
			s.answer(w, 400, 234001, "Invalid request param.", nil)
			return
		}
		if req.Fields["file_name"] == "" || req.FileField != "file" || len(req.FileData) == 0 {
			s.answer(w, 400, 234001, "Invalid request param.", nil)
			return
		}
		s.answer(w, 200, 0, "success", map[string]string{"file_key": fmt.Sprintf("file_v3_%d", s.nextID)})
	case r.URL.Path == "/open-apis/im/v1/messages" || strings.HasSuffix(r.URL.Path, "/reply"):
		if req.Fields["msg_type"] == "" || !json.Valid([]byte(req.Fields["content"])) {
			s.answer(w, 400, 230001, "Your request contains an invalid request parameter.", nil)
			return
		}
		if r.URL.Path == "/open-apis/im/v1/messages" && (r.URL.Query().Get("receive_id_type") == "" || req.Fields["receive_id"] == "") {
			s.answer(w, 400, 230001, "Your request contains an invalid request parameter.", nil)
			return
		}
		id := fmt.Sprintf("om_%d", s.nextID)
		if u := req.Fields["uuid"]; u != "" {
			if prev, ok := s.byUUID[u]; ok {
				id = prev // the platform sends one message per uuid within an hour
			}
			s.byUUID[u] = id
		}
		s.answer(w, 200, 0, "success", map[string]string{"message_id": id, "msg_type": req.Fields["msg_type"]})
	default:
		s.answer(w, 404, 404, "not found", nil)
	}
}

func (s *Server) issueToken(w http.ResponseWriter, r *http.Request) {
	s.tokenCalls++
	var body struct {
		AppID     string `json:"app_id"`
		AppSecret string `json:"app_secret"`
	}
	if json.NewDecoder(r.Body).Decode(&body) != nil || body.AppID != s.AppID || body.AppSecret != s.AppSecret {
		s.answer(w, 400, 10014, "app secret invalid", nil)
		return
	}
	token := fmt.Sprintf("t-%d", s.tokenCalls)
	s.valid[token] = true
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	json.NewEncoder(w).Encode(map[string]any{"code": 0, "msg": "ok", "tenant_access_token": token, "expire": s.ExpireSeconds})
}

func (s *Server) readBody(r *http.Request, req *Request) error {
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil {
		return err
	}
	if mt == "application/json" {
		var fields map[string]any
		if err := json.NewDecoder(r.Body).Decode(&fields); err != nil {
			return err
		}
		for k, v := range fields {
			req.Fields[k] = fmt.Sprint(v)
		}
		return nil
	}
	if mt != "multipart/form-data" {
		return fmt.Errorf("content type %s", mt)
	}
	mr := multipart.NewReader(r.Body, params["boundary"])
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		data, err := io.ReadAll(p)
		if err != nil {
			return err
		}
		if p.FileName() != "" {
			req.FileField, req.FileName, req.FileData = p.FormName(), p.FileName(), data
		} else {
			req.Fields[p.FormName()] = string(data)
		}
	}
}
