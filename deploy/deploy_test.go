// Package deploy holds the deployment files' checks: the Dockerfile's Go
// stage builds a static binary, and the systemd unit is hardened and, where
// systemd-analyze exists, verified by it.
package deploy

import (
	"bufio"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestDockerfileBuildsAStaticBinary runs the Dockerfile's own go build
// line, as its build stage would, and checks that the binary needs no
// dynamic loader (the distroless static base has none) and runs.
func TestDockerfileBuildsAStaticBinary(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^RUN (CGO_ENABLED=0 go build .* -o )/out/alice( \./cmd/alice)$`).FindStringSubmatch(string(data))
	if m == nil {
		t.Fatal("the Dockerfile has no RUN CGO_ENABLED=0 go build ... -o /out/alice ./cmd/alice line")
	}
	// The line as the build stage's shell runs it, from the source root,
	// writing to a temp dir instead of /out.
	out := filepath.Join(t.TempDir(), "alice")
	line := m[1] + out + m[2]
	cmd := exec.Command("sh", "-c", line)
	cmd.Dir = ".."
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", line, err, b)
	}
	f, err := elf.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Fatal("the binary asks for a dynamic loader; the static base image has none")
		}
	}
	if b, err := exec.Command(out, "version").CombinedOutput(); err != nil || !strings.HasPrefix(string(b), "alice ") {
		t.Fatalf("alice version: %q, %v", b, err)
	}
	for _, want := range []string{"USER nonroot", "FROM gcr.io/distroless/static"} {
		if !strings.Contains(string(data), want) {
			t.Errorf("the Dockerfile lacks %q", want)
		}
	}
}

// TestUnitIsHardened reads the unit's [Service] settings and checks the
// sandbox; systemd-analyze verify checks the whole unit where it exists.
func TestUnitIsHardened(t *testing.T) {
	f, err := os.Open("alice.service")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	section, service := "", map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "["):
			section = line
		case section == "[Service]":
			k, v, ok := strings.Cut(line, "=")
			if !ok {
				t.Fatalf("line %q is not key=value", line)
			}
			service[k] = v
		}
	}
	for k, want := range map[string]string{
		"DynamicUser": "yes", "StateDirectory": "alice", "NoNewPrivileges": "yes", "ProtectSystem": "strict",
		"ProtectHome": "yes", "PrivateTmp": "yes", "CapabilityBoundingSet": "", "KillMode": "mixed",
		"Environment": "ALICE_HOME=/var/lib/alice",
	} {
		if got, ok := service[k]; !ok || got != want {
			t.Errorf("[Service] %s = %q, want %q", k, got, want)
		}
	}
	if !strings.HasPrefix(service["ExecStart"], "/usr/local/bin/alice serve") {
		t.Errorf("ExecStart = %q", service["ExecStart"])
	}
	if analyze, err := exec.LookPath("systemd-analyze"); err == nil {
		out, err := exec.Command(analyze, "verify", "--man=no", "alice.service").CombinedOutput()
		// The binary is not installed on a test machine: that is the one
		// complaint allowed.
		for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			if line != "" && !strings.Contains(line, "/usr/local/bin/alice") {
				t.Errorf("systemd-analyze verify: %s (%v)", line, err)
			}
		}
	} else {
		t.Log("systemd-analyze is not installed here; the unit's keys were checked above")
	}
}
