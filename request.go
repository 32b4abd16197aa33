package alice

import "context"

type requestIDKey struct{}

// WithRequestID returns ctx carrying the id of the request it serves, so
// that whatever the request causes can be logged under it.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// RequestID is the request id ctx carries, or "".
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}
