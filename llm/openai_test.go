package llm

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// chatServer speaks the chat completions protocol and records requests.
func chatServer(t *testing.T, status int, answer string, seen *map[string]any) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != "POST" || r.URL.Path != "/v1/chat/completions" {
			t.Errorf("request %s %s", r.Method, r.URL.Path)
		}
		if got := r.Header.Get("Authorization"); got != "Bearer sk-test" {
			t.Errorf("Authorization = %q", got)
		}
		json.NewDecoder(r.Body).Decode(seen)
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
		want         string
		wantErr      string
	}{
		{"reply", `{"choices":[{"message":{"role":"assistant","content":" Done. "}}]}`, 200, "Done.", ""},
		{"api error", `{"error":{"message":"Rate limit reached"}}`, 429, "", "Rate limit reached"},
		{"no content", `{"choices":[]}`, 200, "", "no content"},
		{"not json", `<html>`, 200, "", "not JSON"},
		{"bare 502", ``, 502, "", "502"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var seen map[string]any
			srv := chatServer(t, tt.status, tt.answer, &seen)
			got, err := OpenAI{BaseURL: srv.URL + "/v1/", APIKey: "sk-test", Model: "m1"}.Complete(context.Background(), "hi")
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "sk-test") {
					t.Fatal("the API key leaked into an error")
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("Complete = %q, %v", got, err)
			}
			msgs, _ := seen["messages"].([]any)
			if seen["model"] != "m1" || len(msgs) != 1 || msgs[0].(map[string]any)["content"] != "hi" {
				t.Fatalf("request body = %v", seen)
			}
		})
	}
}
