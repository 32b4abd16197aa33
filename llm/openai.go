package llm

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// OpenAI is an OpenAI-compatible chat completions endpoint
// (POST {BaseURL}/chat/completions).
type OpenAI struct {
	BaseURL string // e.g. https://api.openai.com/v1
	APIKey  string // sent as a bearer token when set; never logged
	Model   string
	Client  *http.Client // default: a client without its own timeout (the context bounds it)
}

// Complete implements Backend with one user message.
func (o OpenAI) Complete(ctx context.Context, prompt string) (string, error) {
	body, err := json.Marshal(map[string]any{
		"model":    o.Model,
		"messages": []map[string]string{{"role": "user", "content": prompt}},
	})
	if err != nil {
		return "", err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(o.BaseURL, "/")+"/chat/completions", bytes.NewReader(body))
	if err != nil {
		return "", fmt.Errorf("llm: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	if o.APIKey != "" {
		req.Header.Set("Authorization", "Bearer "+o.APIKey)
	}
	client := o.Client
	if client == nil {
		client = &http.Client{}
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("llm: %w", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxReplyBytes+1))
	if err != nil {
		return "", fmt.Errorf("llm: read answer: %w", err)
	}
	if len(data) > maxReplyBytes {
		return "", fmt.Errorf("llm: answer is longer than %d bytes", maxReplyBytes)
	}
	var answer struct {
		Choices []struct {
			Message struct {
				Content string `json:"content"`
			} `json:"message"`
		} `json:"choices"`
		Error *struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	jsonErr := json.Unmarshal(data, &answer)
	switch {
	case resp.StatusCode != http.StatusOK && answer.Error != nil:
		return "", fmt.Errorf("llm: %s: %s", resp.Status, answer.Error.Message)
	case resp.StatusCode != http.StatusOK:
		return "", fmt.Errorf("llm: %s", resp.Status)
	case jsonErr != nil:
		return "", fmt.Errorf("llm: answer is not JSON: %w", jsonErr)
	case len(answer.Choices) == 0 || strings.TrimSpace(answer.Choices[0].Message.Content) == "":
		return "", fmt.Errorf("llm: the answer has no content")
	}
	return strings.TrimSpace(answer.Choices[0].Message.Content), nil
}

// WithTimeout bounds every call of b by d.
func WithTimeout(b Backend, d time.Duration) Backend { return timeout{b, d} }

type timeout struct {
	b Backend
	d time.Duration
}

func (t timeout) Complete(ctx context.Context, prompt string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, t.d)
	defer cancel()
	return t.b.Complete(ctx, prompt)
}
