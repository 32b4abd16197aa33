package llm

import (
	"context"
	"errors"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
)

// OpenAI is an OpenAI-compatible chat completions endpoint, called with the
// official client (github.com/openai/openai-go). Its own retries are off:
// the runtime retries, and records each attempt.
type OpenAI struct {
	client    openai.Client
	model     string
	keyEnv    string
	lookupEnv func(string) (string, bool)
}

// OpenAIConfig configures an OpenAI backend.
type OpenAIConfig struct {
	BaseURL string // e.g. https://api.openai.com/v1
	APIKey  string // sent as a bearer token when set; never logged
	// APIKeyEnv names the variable that holds the key instead. It is read
	// at each call, so a configuration runs (and says what is missing when
	// an agent is asked) without the secret at hand.
	APIKeyEnv    string
	LookupEnv    func(string) (string, bool) // default os.LookupEnv
	Model        string
	Organization string // optional
	Project      string // optional
	HTTP         *http.Client
}

// NewOpenAI returns the backend. The client also reads the OPENAI_*
// variables of the runtime's environment; what the configuration sets
// overrides them.
func NewOpenAI(cfg OpenAIConfig) OpenAI {
	opts := []option.RequestOption{
		option.WithBaseURL(strings.TrimRight(cfg.BaseURL, "/") + "/"),
		option.WithMaxRetries(0),
	}
	if cfg.APIKey != "" {
		opts = append(opts, option.WithAPIKey(cfg.APIKey))
	}
	if cfg.Organization != "" {
		opts = append(opts, option.WithOrganization(cfg.Organization))
	}
	if cfg.Project != "" {
		opts = append(opts, option.WithProject(cfg.Project))
	}
	if cfg.HTTP != nil {
		opts = append(opts, option.WithHTTPClient(cfg.HTTP))
	}
	lookup := cfg.LookupEnv
	if lookup == nil {
		lookup = os.LookupEnv
	}
	return OpenAI{client: openai.NewClient(opts...), model: cfg.Model, keyEnv: cfg.APIKeyEnv, lookupEnv: lookup}
}

// Complete implements Backend with one user message. The environment of
// the request means nothing to an endpoint and is not sent.
func (o OpenAI) Complete(ctx context.Context, req Request) (string, error) {
	var opts []option.RequestOption
	if o.keyEnv != "" {
		key, _ := o.lookupEnv(o.keyEnv)
		if key == "" {
			return "", final("", "llm endpoint: the API key variable %s is empty or unset in the runtime's environment", o.keyEnv)
		}
		opts = append(opts, option.WithAPIKey(key))
	}
	resp, err := o.client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
		Model:    o.model,
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage(req.Prompt)},
	}, opts...)
	if err != nil {
		return "", endpointError(ctx, err)
	}
	if len(resp.Choices) == 0 || strings.TrimSpace(resp.Choices[0].Message.Content) == "" {
		return "", final("http 200", "llm endpoint: the answer has no content")
	}
	return strings.TrimSpace(resp.Choices[0].Message.Content), nil
}

// endpointError says what went wrong without the request (whose URL and
// headers may hold secrets): 429 and 5xx may pass, other 4xx will not, and
// a broken connection or a timeout may.
func endpointError(ctx context.Context, err error) error {
	var apiErr *openai.Error
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		return retryable("timeout", "llm endpoint: %w", ctx.Err())
	case ctx.Err() != nil:
		return retryable("cancelled", "llm endpoint: %w", ctx.Err())
	case errors.As(err, &apiErr):
		msg := "llm endpoint: " + strconv.Itoa(apiErr.StatusCode) + " " + http.StatusText(apiErr.StatusCode)
		if apiErr.Message != "" {
			msg += ": " + apiErr.Message
		}
		e := &Error{Err: errors.New(msg), Status: "http " + strconv.Itoa(apiErr.StatusCode),
			Retryable: apiErr.StatusCode == http.StatusTooManyRequests || apiErr.StatusCode >= 500}
		if apiErr.Response != nil {
			e.RetryAfter = retryAfter(apiErr.Response.Header.Get("Retry-After"), time.Now())
		}
		return e
	}
	return retryable("", "llm endpoint: %v", err)
}

// retryAfter reads a Retry-After header: seconds, or an HTTP date.
func retryAfter(v string, now time.Time) time.Duration {
	if secs, err := strconv.Atoi(v); err == nil && secs > 0 {
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}
