package server

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/alice-runtime/alice"
	"github.com/alice-runtime/alice/config"
)

func TestRestartKeepsGoals(t *testing.T) {
	dir := t.TempDir()
	in := start(t, dir, "", Options{})
	paused := func() alice.Goal {
		in.goal(call{method: "POST", path: "/api/v1/goal", body: `{"description":"survive a restart"}`, conv: "oc_a"}, 201)
		return in.goal(call{method: "POST", path: "/api/v1/goal/pause", conv: "oc_a"}, 200)
	}()
	active := in.goal(call{method: "POST", path: "/api/v1/goal", body: `{"description":"b"}`, conv: "oc_b"}, 201)
	token := in.token
	in.stop()

	in = start(t, dir, "", Options{})
	if in.token != token {
		t.Fatalf("the generated token changed across restarts")
	}
	for conv, want := range map[string]alice.Goal{"oc_a": paused, "oc_b": active} {
		got := in.goal(call{method: "GET", path: "/api/v1/goal", conv: conv}, 200)
		if got.ID != want.ID || got.Status != want.Status || got.Description != want.Description || !got.UpdatedAt.Equal(want.UpdatedAt) {
			t.Fatalf("%s after restart: %+v, want %+v", conv, got, want)
		}
	}
}

func TestGeneratedTokenIsPrivateAndNeverLogged(t *testing.T) {
	dir := t.TempDir()
	var logs strings.Builder
	in := start(t, dir, "", Options{Logger: newTextLogger(&logs)})
	info, err := os.Stat(filepath.Join(dir, "bots", "main", "token"))
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Fatalf("token file mode %04o, want 0600", info.Mode().Perm())
	}
	in.do(call{method: "GET", path: "/api/v1/goal", conv: "oc_1", token: ptr("wrong-token-wrong-token")})
	in.do(call{method: "GET", path: "/api/v1/goal", conv: "oc_1"})
	in.stop()
	if strings.Contains(logs.String(), in.token) {
		t.Fatal("the token appears in the logs")
	}
}

func TestTwoBotsListenApartWithTheirOwnTokens(t *testing.T) {
	in := start(t, t.TempDir(), `
bots:
  beta:
    runtime_http_addr: 127.0.0.1:0
  alpha:
    runtime_http_addr: 127.0.0.1:0
`, Options{})
	bots := in.srv.Bots()
	if len(bots) != 2 || bots[0].ID != "alpha" || bots[1].ID != "beta" {
		t.Fatalf("bots = %+v, want alpha then beta", bots)
	}
	if bots[0].Addr == bots[1].Addr || bots[0].Token == bots[1].Token {
		t.Fatalf("bots share an address or token: %+v", bots)
	}
	alpha, beta := in, *in
	beta.base, beta.token = "http://"+bots[1].Addr, bots[1].Token
	alpha.goal(call{method: "POST", path: "/api/v1/goal", body: `{"description":"alpha's"}`, conv: "oc_same"}, 201)
	if a := beta.do(call{method: "GET", path: "/api/v1/goal", conv: "oc_same"}); a.status != 204 {
		t.Fatalf("bot beta sees bot alpha's goal: %d %s", a.status, a.body)
	}
	if a := beta.do(call{method: "GET", path: "/api/v1/goal", conv: "oc_same", token: ptr(bots[0].Token)}); a.status != 401 {
		t.Fatalf("alpha's token on beta: %d, want 401", a.status)
	}
}

func TestSecondServerOnTheSameDataDirIsRefused(t *testing.T) {
	dir := t.TempDir()
	start(t, dir, "", Options{})
	cfg, err := config.Parse([]byte("data_dir: "+dir+"\nbots: {main: {runtime_http_addr: '127.0.0.1:0'}}"), "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := New(cfg, Options{Logger: quietLogger()}); err == nil || !strings.Contains(err.Error(), "in use by another alice process") {
		t.Fatalf("second server: %v, want a data-dir-in-use error", err)
	}
}

func TestPortInUseFailsAtStart(t *testing.T) {
	in := start(t, t.TempDir(), "", Options{})
	cfg, err := config.Parse([]byte("data_dir: "+t.TempDir()+"\nbots: {main: {runtime_http_addr: '"+in.srv.Bots()[0].Addr+"'}}"), "")
	if err != nil {
		t.Fatal(err)
	}
	_, err = New(cfg, Options{Logger: quietLogger()})
	if err == nil || !strings.Contains(err.Error(), "listen on") {
		t.Fatalf("New on a used port: %v, want a listen error", err)
	}
}

func TestHealthzDuringShutdownAndAfter(t *testing.T) {
	in := start(t, t.TempDir(), "", Options{})
	if err := in.srv.health(); err != nil {
		t.Fatalf("health while serving: %v", err)
	}
	if err := in.srv.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := in.srv.health(); alice.ErrorCode(err) != alice.EUnavailable {
		t.Fatalf("health after shutdown: %v, want unavailable", err)
	}
}
