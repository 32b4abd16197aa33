package alice

import (
	"strings"
	"testing"
)

func TestConversationValidate(t *testing.T) {
	ok := Conversation{ReceiveIDType: ReceiveChatID, ReceiveID: "oc_1"}
	tests := []struct {
		name    string
		mutate  func(*Conversation)
		wantErr string // substring; "" = valid
	}{
		{"minimal chat", func(*Conversation) {}, ""},
		{"all optional headers", func(c *Conversation) {
			c.ChatType, c.SourceMessageID, c.ActorUserID, c.ActorOpenID, c.SessionKey = "p2p", "om_1", "u1", "ou_1", "s"
		}, ""},
		{"missing type", func(c *Conversation) { c.ReceiveIDType = "" }, "X-Alice-Receive-Id-Type is required"},
		{"unknown type", func(c *Conversation) { c.ReceiveIDType = "phone" }, "X-Alice-Receive-Id-Type \"phone\""},
		{"missing id", func(c *Conversation) { c.ReceiveID = "" }, "X-Alice-Receive-Id is required"},
		{"oversized id", func(c *Conversation) { c.ReceiveID = strings.Repeat("x", MaxIDBytes+1) }, "longer than 256 bytes"},
		{"control character", func(c *Conversation) { c.ReceiveID = "oc_\x01" }, "control characters"},
		{"bad chat type", func(c *Conversation) { c.ChatType = "channel" }, "X-Alice-Chat-Type"},
		{"bad source message", func(c *Conversation) { c.SourceMessageID = "om\n1" }, "X-Alice-Source-Message-Id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ok
			tt.mutate(&c)
			err := c.Validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || ErrorCode(err) != EInvalid {
				t.Fatalf("Validate() = %v, want an invalid error containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestConversationScope(t *testing.T) {
	tests := []struct {
		typ  ReceiveIDType
		want string
	}{
		{ReceiveChatID, "chat/x"}, {ReceiveOpenID, "user/x"}, {ReceiveUserID, "user/x"},
		{ReceiveUnionID, "user/x"}, {ReceiveEmail, "user/x"},
	}
	for _, tt := range tests {
		if got := (Conversation{ReceiveIDType: tt.typ, ReceiveID: "x"}).Scope().String(); got != tt.want {
			t.Errorf("%s: scope = %q, want %q", tt.typ, got, tt.want)
		}
	}
}

func TestConversationKeyRoundTrip(t *testing.T) {
	for _, k := range []ConversationKey{
		{Bot: "main", Scope: Scope{Type: ScopeChat, ID: "oc_1"}},
		{Bot: "b-2", Scope: Scope{Type: ScopeUser, ID: "a/b/c"}},
	} {
		got, err := ParseConversationKey(k.String())
		if err != nil || got != k {
			t.Errorf("ParseConversationKey(%q) = %v, %v; want %v", k.String(), got, err, k)
		}
	}
	for _, bad := range []string{"", "main", "main/chat", "/chat/x", "main/room/x", "main/chat/"} {
		if _, err := ParseConversationKey(bad); err == nil {
			t.Errorf("ParseConversationKey(%q) succeeded", bad)
		}
	}
}
