package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/spf13/cobra"

	"github.com/alice-runtime/alice/config"
	"github.com/alice-runtime/alice/messenger/feishu"
	"github.com/alice-runtime/alice/persistence/badgerstore"
)

// check is one line of alice doctor: what was checked, and a problem with
// what to do about it, or nil.
type check struct {
	what string
	err  error
}

func newDoctorCmd(c cli) *cobra.Command {
	var configPath string
	cmd := &cobra.Command{
		Use:   "doctor [--config FILE]",
		Short: "Check a setup: config, tokens, addresses, data dir, Feishu, the agent",
		Long: `Checks what alice serve needs, without starting it: the configuration, each
bot's token file, that each address is free (or answers as a running alice),
the data directory's free space and lock, the Feishu credentials (one token
request) and the agent (the command exists, or the endpoint answers). Prints
one line per check and what to do about a failure; exits 1 if any failed.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			failed := 0
			report := func(k check) {
				if k.err != nil {
					failed++
					fmt.Fprintf(c.stdout, "FAIL %s: %v\n", k.what, k.err)
					return
				}
				fmt.Fprintf(c.stdout, "ok   %s\n", k.what)
			}
			cfg, err := loadConfig(configPath)
			what := "config: the built-in default"
			if configPath != "" {
				what = "config: " + configPath
			}
			report(check{what, err})
			if err != nil {
				return errors.New("the configuration is invalid; nothing else was checked")
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), time.Minute)
			defer cancel()
			for _, k := range doctor(ctx, cfg, c.getenv) {
				report(k)
			}
			if failed > 0 {
				return fmt.Errorf("%d check(s) failed", failed)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&configPath, "config", "", "the YAML configuration (default: the built-in one)")
	return cmd
}

// doctor runs every check of a valid configuration.
func doctor(ctx context.Context, cfg *config.Config, getenv func(string) string) []check {
	checks := []check{checkDataDir(cfg)}
	running := map[string]bool{} // addresses a running alice answers on
	for _, b := range cfg.Bots {
		checks = append(checks, checkToken(cfg, b))
		if b.Addr != "" {
			k, up := checkAddr(ctx, b)
			running[b.Addr] = up
			checks = append(checks, k)
		}
		if b.Socket != "" {
			k, up := checkSocket(ctx, b)
			running[b.Socket] = up
			checks = append(checks, k)
		}
		if b.Feishu != nil {
			checks = append(checks, checkFeishu(ctx, b))
		}
		if b.LLM != nil {
			checks = append(checks, checkAgent(ctx, b, getenv))
		}
	}
	return append(checks, checkLock(cfg, running))
}

func checkDataDir(cfg *config.Config) check {
	what := "data dir " + cfg.DataDir
	dir := cfg.DataDir
	for { // the nearest directory that exists is where it would be created
		if _, err := os.Stat(dir); err == nil || dir == filepath.Dir(dir) {
			break
		}
		dir = filepath.Dir(dir)
	}
	free, err := badgerstore.StatfsFreeSpace(dir)
	if err != nil {
		return check{what, fmt.Errorf("cannot read its free space: %w", err)}
	}
	what += fmt.Sprintf(" (%s free)", humanize.IBytes(free))
	if free < cfg.MinFreeDisk {
		return check{what, fmt.Errorf("less than min_free_disk (%s): writes would be refused; free some space or lower min_free_disk", humanize.IBytes(cfg.MinFreeDisk))}
	}
	probe, err := os.CreateTemp(dir, ".alice-doctor-*")
	if err != nil {
		return check{what, fmt.Errorf("cannot write in %s: %w", dir, err)}
	}
	probe.Close()
	os.Remove(probe.Name())
	return check{what, nil}
}

func checkToken(cfg *config.Config, b config.Bot) check {
	what := "bot " + b.ID + ": token"
	if b.Token != "" {
		return check{what + " (configured)", nil}
	}
	tok, err := cfg.GeneratedToken(b)
	switch {
	case err != nil:
		return check{what, err}
	case tok == "":
		return check{what + " (generated at the first start)", nil}
	}
	return check{what + " (generated, mode 0600)", nil}
}

// checkAddr: the address must be free, or answer /healthz as a running
// alice does.
func checkAddr(ctx context.Context, b config.Bot) (check, bool) {
	what := "bot " + b.ID + ": address " + b.Addr
	ln, err := net.Listen("tcp", b.Addr)
	if err == nil {
		ln.Close()
		return check{what + " (free)", nil}, false
	}
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+b.Addr+"/healthz", nil)
	client := &http.Client{Timeout: 5 * time.Second}
	if resp, herr := client.Do(req); herr == nil {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		resp.Body.Close()
		if strings.Contains(string(body), `"status"`) {
			return check{what + " (a running alice answers on it)", nil}, true
		}
	}
	return check{what, fmt.Errorf("in use by another program (%v); stop it or set runtime_http_addr", err)}, false
}

// checkSocket: the socket's directory must exist; a socket a running
// alice answers on is fine.
func checkSocket(ctx context.Context, b config.Bot) (check, bool) {
	what := "bot " + b.ID + ": socket " + b.Socket
	fi, err := os.Stat(filepath.Dir(b.Socket))
	if err != nil || !fi.IsDir() {
		return check{what, fmt.Errorf("its directory %s does not exist; create it or change runtime_socket", filepath.Dir(b.Socket))}, false
	}
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", b.Socket)
		}}}
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://localhost/healthz", nil)
	if resp, err := client.Do(req); err == nil {
		resp.Body.Close()
		return check{what + " (a running alice answers on it)", nil}, true
	}
	return check{what, nil}, false
}

func checkFeishu(ctx context.Context, b config.Bot) check {
	what := "bot " + b.ID + ": feishu app " + b.Feishu.AppID
	c := feishu.New(feishu.Config{AppID: b.Feishu.AppID, AppSecret: b.Feishu.AppSecret, AppSecretEnv: b.Feishu.AppSecretEnv,
		BaseURL: b.Feishu.BaseURL, Retries: 1})
	if err := c.Check(ctx); err != nil {
		return check{what, fmt.Errorf("%v; check app_id and the secret", err)}
	}
	return check{what + " (a tenant token was issued)", nil}
}

func checkAgent(ctx context.Context, b config.Bot, getenv func(string) string) check {
	if len(b.LLM.Command) > 0 {
		what := "bot " + b.ID + ": agent command " + b.LLM.Command[0]
		program := b.LLM.Command[0]
		if !strings.Contains(program, "/") {
			path, err := exec.LookPath(program)
			if err != nil {
				return check{what, fmt.Errorf("not found on PATH; install it or give its full path in llm.command")}
			}
			return check{what + " (" + path + ")", nil}
		}
		if !filepath.IsAbs(program) && b.LLM.Workdir != "" {
			program = filepath.Join(b.LLM.Workdir, program)
		}
		if fi, err := os.Stat(program); err != nil || fi.IsDir() || fi.Mode().Perm()&0o111 == 0 {
			return check{what, fmt.Errorf("%s is not an executable file", program)}
		}
		return check{what, nil}
	}
	o := b.LLM.OpenAI
	what := "bot " + b.ID + ": agent endpoint " + o.BaseURL
	req, _ := http.NewRequestWithContext(ctx, "GET", o.BaseURL+"/models", nil)
	if o.APIKeyEnv != "" {
		key := getenv(o.APIKeyEnv)
		if key == "" {
			return check{what, fmt.Errorf("the key variable %s is empty or unset; set it in alice's environment", o.APIKeyEnv)}
		}
		req.Header.Set("Authorization", "Bearer "+key)
	}
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		return check{what, fmt.Errorf("does not answer: %v", err)}
	}
	resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return check{what, fmt.Errorf("refuses the key (HTTP %d); check %s", resp.StatusCode, o.APIKeyEnv)}
	case resp.StatusCode >= 500:
		return check{what, fmt.Errorf("answers HTTP %d", resp.StatusCode)}
	}
	return check{what + fmt.Sprintf(" (HTTP %d)", resp.StatusCode), nil}
}

// checkLock: the store may be open only by the alice that answers on the
// configured addresses.
func checkLock(cfg *config.Config, running map[string]bool) check {
	what := "data dir lock"
	pid, inUse, err := badgerstore.InUse(cfg.StoreDir())
	switch {
	case err != nil:
		return check{what, err}
	case !inUse:
		return check{what + " (free)", nil}
	}
	for _, up := range running {
		if up {
			return check{what + fmt.Sprintf(" (held by the running alice, pid %d)", pid), nil}
		}
	}
	return check{what, fmt.Errorf("held by process %d, which does not answer on the configured addresses; stop it, or use another data_dir", pid)}
}
