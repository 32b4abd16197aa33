package config

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

const tokenFile = "token"

// Token returns the bot's API token: the configured one, or the one generated
// on first use and kept (mode 0600) in the bot's data directory.
func (c *Config) Token(b Bot) (string, error) {
	if b.Token != "" {
		return b.Token, nil
	}
	return LoadOrCreateToken(c.BotDir(b.ID))
}

// GeneratedToken reads a bot's generated token without creating one: ""
// and no error when it has not been generated yet.
func (c *Config) GeneratedToken(b Bot) (string, error) {
	tok, err := readToken(filepath.Join(c.BotDir(b.ID), tokenFile))
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	return tok, err
}

// LoadOrCreateToken reads dir/token, creating it first with 32 bytes from
// the system CSPRNG (URL-safe base64) if it does not exist. The new file is
// written beside the target and hard-linked into place, which fails if the
// token already exists: two processes starting at once agree on one token,
// and a crash never leaves a half-written token behind.
func LoadOrCreateToken(dir string) (string, error) {
	path := filepath.Join(dir, tokenFile)
	tok, err := readToken(path)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return tok, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("token: create %s: %w", dir, err)
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", fmt.Errorf("token: read random bytes: %w", err)
	}
	tok = base64.RawURLEncoding.EncodeToString(raw)
	tmp, err := os.CreateTemp(dir, ".token-*")
	if err != nil {
		return "", fmt.Errorf("token: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return "", fmt.Errorf("token: %w", err)
	}
	if _, err := tmp.WriteString(tok + "\n"); err != nil {
		tmp.Close()
		return "", fmt.Errorf("token: write %s: %w", tmp.Name(), err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return "", fmt.Errorf("token: sync %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return "", fmt.Errorf("token: %w", err)
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return readToken(path) // another process won the race
		}
		return "", fmt.Errorf("token: %w", err)
	}
	return tok, nil
}

func readToken(path string) (string, error) {
	info, err := os.Stat(path)
	if err != nil {
		return "", err
	}
	if info.Mode().Perm()&0o077 != 0 {
		return "", fmt.Errorf("token: %s is readable by other users (mode %04o); run chmod 600 on it", path, info.Mode().Perm())
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("token: %w", err)
	}
	tok := strings.TrimSpace(string(data))
	if err := checkToken(tok); err != nil {
		return "", fmt.Errorf("token: %s %v; delete the file to generate a new token", path, err)
	}
	return tok, nil
}
