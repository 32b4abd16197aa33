package llm

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// chatServer speaks the chat completions protocol and records requests.
func chatServer(t *testing.T, status int, answer string, header map[string]string, seen *map[string]any, headers *http.Header) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != "POST" || r.URL.Path != "/v1/chat/completions" {
			t.Errorf("request %s %s", r.Method, r.URL.Path)
		}
		*headers = r.Header.Clone()
		json.NewDecoder(r.Body).Decode(seen)
		for k, v := range header {
			w.Header().Set(k, v)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		w.Write([]byte(answer))
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestOpenAI(t *testing.T) {
	tests := []struct {
		name, answer string
		status       int
		header       map[string]string
		want         string
		wantErr      string
		retryable    bool
		retryAfter   time.Duration
		runStatus    string
	}{
		{"reply", `{"id":"c1","object":"chat.completion","created":1,"model":"m1","choices":[{"index":0,"finish_reason":"stop","message":{"role":"assistant","content":" Done. "}}]}`, 200, nil, "Done.", "", false, 0, ""},
		{"rate limited", `{"error":{"message":"Rate limit reached","type":"requests","code":"rate_limit_exceeded"}}`, 429, map[string]string{"Retry-After": "7"}, "", "429 Too Many Requests: Rate limit reached", true, 7 * time.Second, "http 429"},
		{"server error", `{"error":{"message":"overloaded"}}`, 503, nil, "", "503", true, 0, "http 503"},
		{"refused", `{"error":{"message":"Invalid model"}}`, 400, nil, "", "400 Bad Request: Invalid model", false, 0, "http 400"},
		{"no content", `{"id":"c1","object":"chat.completion","created":1,"model":"m1","choices":[]}`, 200, nil, "", "no content", false, 0, "http 200"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var seen map[string]any
			var headers http.Header
			srv := chatServer(t, tt.status, tt.answer, tt.header, &seen, &headers)
			b := NewOpenAI(OpenAIConfig{BaseURL: srv.URL + "/v1", APIKey: "sk-test", Model: "m1", Organization: "org-1"})
			got, err := b.Complete(context.Background(), Request{Prompt: "hi", Env: []string{"ALICE_RUNTIME_API_TOKEN=secret"}})
			if headers.Get("Authorization") != "Bearer sk-test" || headers.Get("OpenAI-Organization") != "org-1" {
				t.Fatalf("headers = %v", headers)
			}
			msgs, _ := seen["messages"].([]any)
			if seen["model"] != "m1" || len(msgs) != 1 || msgs[0].(map[string]any)["content"] != "hi" || strings.Contains(strings.Join(headers.Values("Authorization"), ""), "secret") {
				t.Fatalf("request body = %v", seen)
			}
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || strings.Contains(err.Error(), "sk-test") {
					t.Fatalf("err = %v, want %q (and no key)", err, tt.wantErr)
				}
				if r, after := Retryable(err); r != tt.retryable || after != tt.retryAfter {
					t.Fatalf("retryable = %v after %s, want %v after %s", r, after, tt.retryable, tt.retryAfter)
				}
				if got := StatusOf(err); got != tt.runStatus {
					t.Fatalf("status = %q, want %q", got, tt.runStatus)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("Complete = %q, %v", got, err)
			}
		})
	}
}

func TestOpenAITimeout(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := NewOpenAI(OpenAIConfig{BaseURL: srv.URL, Model: "m"}).Complete(ctx, Request{Prompt: "hi"})
	if r, _ := Retryable(err); err == nil || !r || !strings.Contains(err.Error(), "deadline") {
		t.Fatalf("err = %v; want a retryable timeout", err)
	}
}

// TestOpenAIKeyFromTheEnvironment: the key variable is read at each call,
// so a runtime starts without it and a call says what is missing.
func TestOpenAIKeyFromTheEnvironment(t *testing.T) {
	var seen map[string]any
	var headers http.Header
	srv := chatServer(t, 200, `{"id":"c1","object":"chat.completion","created":1,"model":"m1","choices":[{"index":0,"finish_reason":"stop","message":{"role":"assistant","content":"ok"}}]}`, nil, &seen, &headers)
	env := map[string]string{}
	b := NewOpenAI(OpenAIConfig{BaseURL: srv.URL + "/v1", APIKeyEnv: "TEST_AGENT_KEY", Model: "m1",
		LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }})
	_, err := b.Complete(context.Background(), Request{Prompt: "hi"})
	if err == nil || !strings.Contains(err.Error(), "TEST_AGENT_KEY") || headers != nil {
		t.Fatalf("without the key: err = %v, request sent = %v", err, headers != nil)
	}
	if r, _ := Retryable(err); r {
		t.Fatal("a missing key is retryable")
	}
	env["TEST_AGENT_KEY"] = "sk-later"
	if got, err := b.Complete(context.Background(), Request{Prompt: "hi"}); err != nil || got != "ok" || headers.Get("Authorization") != "Bearer sk-later" {
		t.Fatalf("with the key: %q, %v, Authorization %q", got, err, headers.Get("Authorization"))
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		header string
		want   time.Duration
	}{
		{"", 0},
		{"12", 12 * time.Second},
		{"-3", 0},
		{"soon", 0},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{now.Add(-time.Minute).Format(http.TimeFormat), 0},
	}
	for _, tt := range tests {
		if got := retryAfter(tt.header, now); got != tt.want {
			t.Errorf("retryAfter(%q) = %s, want %s", tt.header, got, tt.want)
		}
	}
}
