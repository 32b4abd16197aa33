package wire

import (
	"net/http"
	"strings"
	"testing"

	"github.com/alice-runtime/alice"
)

func TestStatusAndCodeAreInverse(t *testing.T) {
	seen := map[int]alice.Code{}
	for _, s := range statuses {
		if other, ok := seen[s.status]; ok {
			t.Fatalf("status %d maps back to both %s and %s", s.status, other, s.code)
		}
		seen[s.status] = s.code
		if got := Code(Status(s.code)); got != s.code {
			t.Errorf("Code(Status(%s)) = %s", s.code, got)
		}
	}
	if Status("made-up") != 500 || Code(418) != alice.EInvalid || Code(599) != alice.EInternal {
		t.Fatal("unknown kinds and statuses are not mapped to the defaults")
	}
}

func TestConversationRoundTrips(t *testing.T) {
	c := alice.Conversation{ReceiveIDType: alice.ReceiveOpenID, ReceiveID: "ou_1", ChatType: "p2p", SourceMessageID: "om_1",
		ActorUserID: "u1", ActorOpenID: "ou_2", SessionKey: "s"}
	h := http.Header{}
	SetConversation(h, c)
	if got := ConversationFrom(h); got != c {
		t.Fatalf("through headers: %+v, want %+v", got, c)
	}
	env := map[string]string{}
	for _, kv := range ConversationEnv(c) {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	if got := ConversationFromEnv(func(k string) string { return env[k] }); got != c {
		t.Fatalf("through the environment: %+v, want %+v", got, c)
	}
}
