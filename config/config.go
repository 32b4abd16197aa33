// Package config reads, defaults and validates the runtime's configuration
// (YAML), and keeps each bot's generated API token in its data directory.
// An invalid configuration is refused with an error that names the key.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"text/template"
	"time"

	"github.com/dustin/go-humanize"
	"go.yaml.in/yaml/v3"

	"github.com/alice-runtime/alice"
)

// Defaults of the contract.
const (
	DefaultBotID         = "default"
	DefaultBasePort      = 7331
	DefaultRateLimit     = 120
	DefaultCatchUpWindow = time.Hour
	DefaultShutdown      = 10 * time.Second
	DefaultLLMTimeout    = 5 * time.Minute
	DefaultLLMRetries    = 2
	DefaultAgents        = 4 // llm.max_concurrency
	DefaultMaxFailures   = 3 // max_consecutive_failures
	DefaultFeishuBaseURL = "https://open.feishu.cn"
	DefaultOutboxKeep    = alice.DefaultOutboxMaxMessages
	DefaultOutboxMaxAge  = alice.DefaultOutboxMaxAge
	DefaultMinFreeDisk   = 256 << 20
	DefaultMemoryLimit   = 768 << 20
	minMemoryLimit       = 64 << 20
	DefaultDataDir       = "alice-data"
	maxConfigBytes       = 1 << 20
	maxWorkflowSteps     = 32
	maxSocketPath        = 107 // sun_path holds 108 bytes with the final NUL
)

// Config is a validated configuration.
type Config struct {
	DataDir  string
	Location *time.Location // default zone for cron and offset-less run_at
	Bots     []Bot          // ordered by id
	// MinFreeDisk is the free space below which writes are refused (507).
	MinFreeDisk uint64
	// MemoryLimit is the Go runtime's soft memory limit for alice serve; 0
	// leaves it unset. It is a target for the garbage collector, never a
	// reason to fail an allocation.
	MemoryLimit uint64
	// ShutdownTimeout bounds a graceful stop.
	ShutdownTimeout time.Duration
}

// Bot is one bot's validated settings.
type Bot struct {
	ID                 string
	Addr               string // host:port of its HTTP listener; "" for none (Socket only)
	Socket             string // path of its unix socket listener; "" for none
	AllowRemote        bool
	Hosts              []string // names the API answers to besides loopback ones
	Token              string   // configured token; "" means generated (see Token)
	RateLimitPerMinute int      // 0 disables rate limiting
	Permissions        Permissions
	CatchUpWindow      time.Duration
	TaskRetention      time.Duration // finished tasks are kept this long
	Location           *time.Location
	Feishu             *Feishu // nil: the local outbox
	Outbox             OutboxRetention
	LLM                *LLM // nil: run_llm is refused
	Workflows          map[string]Workflow
	Goal               Goal
	// MaxConsecutiveFailures failed occurrences in a row pause a recurring
	// task; 0 never does.
	MaxConsecutiveFailures int
}

// Goal configures a bot's goals and the goal loop.
type Goal struct {
	Loop            bool               // run the agent on an in-progress goal until it is done
	DefaultDeadline time.Duration      // 0: none
	Prompt          *template.Template // nil: the built-in prompt
}

// GoalPromptData is what a goal prompt template sees.
type GoalPromptData struct {
	Objective   string
	Now         time.Time
	Deadline    *time.Time // nil: no deadline
	Remaining   time.Duration
	Elapsed     time.Duration
	Iteration   int // 1 for the first
	DelayReason string
}

// OutboxRetention bounds the local outbox.
type OutboxRetention struct {
	MaxMessages int           // per conversation
	MaxAge      time.Duration // 0: kept until pushed out by MaxMessages
}

// Permissions switch parts of the API on and off.
type Permissions struct {
	RuntimeMessage    bool
	RuntimeAutomation bool
}

// Feishu holds Open Platform credentials. AppSecret is resolved from
// app_secret_env when that is used; it is never logged.
type Feishu struct {
	AppID        string
	AppSecret    string // set in the file, or
	AppSecretEnv string // the variable that holds it, read when it is used
	BaseURL      string
}

// LLM configures the agent that run_llm tasks, workflow steps and the goal
// loop use: a command (prompt on stdin, reply on stdout) or an
// OpenAI-compatible endpoint.
type LLM struct {
	Command    []string
	Workdir    string   // the command's working directory; "" the runtime's
	Env        []string // extra variables for the command, NAME=value, by name
	InheritEnv []string // variables the command inherits; nil: the safe default set
	OpenAI     *OpenAI
	Timeout    time.Duration // one attempt
	Retries    int           // further attempts of an occurrence that failed in a way that may pass
	// MaxConcurrency bounds the agents of the bot running at once.
	MaxConcurrency int
}

// OpenAI is an OpenAI-compatible chat completions endpoint. The key is read
// from the APIKeyEnv variable when a call is made, never from the file.
type OpenAI struct {
	BaseURL      string
	APIKeyEnv    string
	Model        string
	Organization string
	Project      string
}

// Workflow is a named list of steps run in order.
type Workflow struct {
	Steps []Step
}

// Step is one workflow step: exactly one of RunLLM or SendText, each a
// text/template over StepData. Name, when set, is how later steps refer
// to its output.
type Step struct {
	Name     string
	RunLLM   *template.Template
	SendText *template.Template
}

// StepData is what a workflow step's template sees: the task's prompt as
// Input, the previous step's output (the agent's reply, or the text sent)
// as Previous, and the outputs of all earlier steps in Steps, by index
// ("0", "1", ...) and by name for named steps:
// {{index .Steps "0"}}, {{.Steps.summary}}.
type StepData struct {
	Input    string
	Previous string
	Steps    map[string]string
}

// Default is the configuration of `alice` with no config file: one bot named
// "default" on 127.0.0.1:7331 with data in $ALICE_HOME/runtime or ./alice-data.
func Default() *Config {
	c, err := build(file{}, "")
	if err != nil {
		panic("config: the built-in default is invalid: " + err.Error()) // a bug, not input
	}
	return c
}

// Load reads and validates the YAML file at path.
func Load(path string) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxConfigBytes+1))
	if err != nil {
		return nil, fmt.Errorf("config: read %s: %w", path, err)
	}
	if len(data) > maxConfigBytes {
		return nil, fmt.Errorf("config: %s is larger than %d bytes", path, maxConfigBytes)
	}
	c, err := Parse(data, filepath.Dir(path))
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	return c, nil
}

// Parse validates YAML config text. A relative data_dir is taken relative to
// baseDir (the config file's directory).
func Parse(data []byte, baseDir string) (*Config, error) {
	var f file
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("invalid YAML: %s", nameKeys(data, err))
	}
	return build(f, baseDir)
}

// nameKeys rewrites yaml's "line N: ..." type errors to also name the key
// on that line ("line N (bots.main.rate_limit_per_minute): ..."), so a
// wrong type is reported like every other invalid key.
func nameKeys(data []byte, err error) string {
	var typeErr *yaml.TypeError
	if !errors.As(err, &typeErr) {
		return err.Error()
	}
	var root yaml.Node
	if yaml.Unmarshal(data, &root) != nil {
		return err.Error()
	}
	keys := map[int]string{}
	var walk func(n *yaml.Node, path string)
	walk = func(n *yaml.Node, path string) {
		switch n.Kind {
		case yaml.DocumentNode, yaml.SequenceNode:
			for _, c := range n.Content {
				walk(c, path)
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k := strings.TrimPrefix(path+"."+n.Content[i].Value, ".")
				keys[n.Content[i].Line] = k
				walk(n.Content[i+1], k)
			}
		}
	}
	walk(&root, "")
	msgs := make([]string, len(typeErr.Errors))
	for i, m := range typeErr.Errors {
		var line int
		if _, scanErr := fmt.Sscanf(m, "line %d:", &line); scanErr == nil && keys[line] != "" {
			m = strings.Replace(m, fmt.Sprintf("line %d:", line), fmt.Sprintf("line %d (%s):", line, keys[line]), 1)
		}
		msgs[i] = m
	}
	return strings.Join(msgs, "; ")
}

// The YAML shape. Pointers tell "absent" from a zero value.
type file struct {
	DataDir         string             `yaml:"data_dir"`
	Timezone        string             `yaml:"timezone"`
	MinFreeDisk     string             `yaml:"min_free_disk"`
	MemoryLimit     string             `yaml:"memory_limit"`
	ShutdownTimeout *time.Duration     `yaml:"shutdown_timeout"`
	Bots            map[string]botFile `yaml:"bots"`
}

type botFile struct {
	Addr        string          `yaml:"runtime_http_addr"`
	Socket      string          `yaml:"runtime_socket"`
	AllowRemote bool            `yaml:"runtime_http_allow_remote"`
	Hosts       []string        `yaml:"runtime_http_hosts"`
	Token       string          `yaml:"runtime_http_token"`
	RateLimit   *int            `yaml:"rate_limit_per_minute"`
	Permissions permissionsFile `yaml:"permissions"`
	CatchUp     *time.Duration  `yaml:"catch_up_window"`
	Retention   *time.Duration  `yaml:"task_retention"`
	MaxFailures *int            `yaml:"max_consecutive_failures"`
	Timezone    string          `yaml:"timezone"`
	Feishu      *feishuFile     `yaml:"feishu"`
	Outbox      struct {
		MaxMessages *int           `yaml:"max_messages"`
		MaxAge      *time.Duration `yaml:"max_age"`
	} `yaml:"outbox"`
	LLM  *llmFile `yaml:"llm"`
	Goal struct {
		Loop            *bool          `yaml:"loop"`
		DefaultDeadline *time.Duration `yaml:"default_deadline"`
		Prompt          string         `yaml:"prompt"`
	} `yaml:"goal"`
	Workflows map[string]struct {
		Steps []map[string]string `yaml:"steps"`
	} `yaml:"workflows"`
}

type permissionsFile struct {
	RuntimeMessage    *bool `yaml:"runtime_message"`
	RuntimeAutomation *bool `yaml:"runtime_automation"`
}

type feishuFile struct {
	AppID        string `yaml:"app_id"`
	AppSecret    string `yaml:"app_secret"`
	AppSecretEnv string `yaml:"app_secret_env"`
	BaseURL      string `yaml:"base_url"`
}

type llmFile struct {
	Command        []string          `yaml:"command"`
	Workdir        string            `yaml:"workdir"`
	Env            map[string]string `yaml:"env"`
	InheritEnv     []string          `yaml:"inherit_env"`
	Timeout        *time.Duration    `yaml:"timeout"`
	Retries        *int              `yaml:"retries"`
	MaxConcurrency *int              `yaml:"max_concurrency"`
	OpenAI         *struct {
		BaseURL      string `yaml:"base_url"`
		APIKeyEnv    string `yaml:"api_key_env"`
		Model        string `yaml:"model"`
		Organization string `yaml:"organization"`
		Project      string `yaml:"project"`
	} `yaml:"openai"`
}

var (
	botIDPattern    = regexp.MustCompile(`^[a-z0-9_-]{1,64}$`)
	workflowPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
	// A step name is a template identifier, so {{.Steps.name}} reaches it.
	stepNamePattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,63}$`)
	envNamePattern  = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
)

func build(f file, baseDir string) (*Config, error) {
	c := &Config{DataDir: f.DataDir, Location: time.Local}
	switch {
	case c.DataDir == "" && os.Getenv("ALICE_HOME") != "":
		// Alice keeps its own files in ALICE_HOME; the runtime takes a
		// directory of its own there.
		c.DataDir = filepath.Join(os.Getenv("ALICE_HOME"), "runtime")
	case c.DataDir == "":
		c.DataDir = DefaultDataDir
	case !filepath.IsAbs(c.DataDir) && baseDir != "":
		c.DataDir = filepath.Join(baseDir, c.DataDir)
	}
	if f.Timezone != "" {
		loc, err := time.LoadLocation(f.Timezone)
		if err != nil {
			return nil, fmt.Errorf("timezone: %q is not an IANA zone name", f.Timezone)
		}
		c.Location = loc
	}
	c.MinFreeDisk = DefaultMinFreeDisk
	if f.MinFreeDisk != "" {
		n, err := humanize.ParseBytes(f.MinFreeDisk)
		if err != nil || n < 16<<20 {
			return nil, fmt.Errorf("min_free_disk: %q must be a size of at least 16MB, such as 256MB or 1GiB", f.MinFreeDisk)
		}
		c.MinFreeDisk = n
	}
	c.MemoryLimit = DefaultMemoryLimit
	switch f.MemoryLimit {
	case "":
	case "off":
		c.MemoryLimit = 0
	default:
		n, err := humanize.ParseBytes(f.MemoryLimit)
		if err != nil || n < minMemoryLimit {
			return nil, fmt.Errorf("memory_limit: %q must be off or a size of at least 64MiB, such as 768MiB or 2GiB", f.MemoryLimit)
		}
		c.MemoryLimit = n
	}
	c.ShutdownTimeout = DefaultShutdown
	if d := f.ShutdownTimeout; d != nil {
		if *d < time.Second || *d > 10*time.Minute {
			return nil, fmt.Errorf("shutdown_timeout: %s is outside [1s, 10m]", *d)
		}
		c.ShutdownTimeout = *d
	}
	if len(f.Bots) == 0 {
		f.Bots = map[string]botFile{DefaultBotID: {}}
	}
	ids := make([]string, 0, len(f.Bots))
	for id := range f.Bots {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	addrs := map[string]string{}
	tokens := map[string]string{}
	for i, id := range ids {
		b, err := buildBot(id, i, f.Bots[id], c.Location, baseDir)
		if err != nil {
			return nil, err
		}
		if b.Socket != "" {
			if other, ok := addrs[b.Socket]; ok {
				return nil, fmt.Errorf("bots.%s.runtime_socket: %s is already used by bot %s", id, b.Socket, other)
			}
			addrs[b.Socket] = id
		}
		if _, port, _ := net.SplitHostPort(b.Addr); b.Addr != "" && port != "0" {
			if other, ok := addrs[b.Addr]; ok {
				return nil, fmt.Errorf("bots.%s.runtime_http_addr: %s is already used by bot %s", id, b.Addr, other)
			}
			addrs[b.Addr] = id
		}
		if b.Token != "" {
			if other, ok := tokens[b.Token]; ok {
				return nil, fmt.Errorf("bots.%s.runtime_http_token: the same token is configured for bot %s; each bot needs its own", id, other)
			}
			tokens[b.Token] = id
		}
		c.Bots = append(c.Bots, b)
	}
	return c, nil
}

func buildBot(id string, index int, f botFile, zone *time.Location, baseDir string) (Bot, error) {
	key := "bots." + id
	if !botIDPattern.MatchString(id) {
		return Bot{}, fmt.Errorf("bots: bot id %q must match [a-z0-9_-]{1,64}", id)
	}
	b := Bot{
		ID:                 id,
		Addr:               f.Addr,
		AllowRemote:        f.AllowRemote,
		Token:              f.Token,
		RateLimitPerMinute: DefaultRateLimit,
		Permissions:        Permissions{RuntimeMessage: true, RuntimeAutomation: true},
		CatchUpWindow:      DefaultCatchUpWindow,
		Location:           zone,
		Outbox:             OutboxRetention{MaxMessages: DefaultOutboxKeep, MaxAge: DefaultOutboxMaxAge},

		MaxConsecutiveFailures: DefaultMaxFailures,
	}
	if f.Socket != "" {
		// A socket alone, unless an address is configured too.
		b.Socket = f.Socket
		if !filepath.IsAbs(b.Socket) && baseDir != "" {
			b.Socket = filepath.Join(baseDir, b.Socket)
		}
		if len(b.Socket) > maxSocketPath {
			return Bot{}, fmt.Errorf("%s.runtime_socket: %s is longer than the %d bytes a unix socket path may have", key, b.Socket, maxSocketPath)
		}
	} else if b.Addr == "" {
		b.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(DefaultBasePort+index))
	}
	if b.Addr != "" {
		if err := checkAddr(b.Addr, b.AllowRemote); err != nil {
			return Bot{}, fmt.Errorf("%s.runtime_http_addr: %w", key, err)
		}
	}
	if b.Token != "" {
		if err := checkToken(b.Token); err != nil {
			return Bot{}, fmt.Errorf("%s.runtime_http_token: %w", key, err)
		}
	}
	if f.RateLimit != nil {
		if *f.RateLimit < 0 || *f.RateLimit > 1_000_000 {
			return Bot{}, fmt.Errorf("%s.rate_limit_per_minute: %d is outside 0..1000000 (0 turns the limit off)", key, *f.RateLimit)
		}
		b.RateLimitPerMinute = *f.RateLimit
	}
	if p := f.Permissions.RuntimeMessage; p != nil {
		b.Permissions.RuntimeMessage = *p
	}
	if p := f.Permissions.RuntimeAutomation; p != nil {
		b.Permissions.RuntimeAutomation = *p
	}
	if f.CatchUp != nil {
		if *f.CatchUp < time.Second {
			return Bot{}, fmt.Errorf("%s.catch_up_window: %s must be at least 1s (it is how late an occurrence may start and still run)", key, *f.CatchUp)
		}
		b.CatchUpWindow = *f.CatchUp
	}
	b.TaskRetention = alice.DefaultTaskRetention
	if f.Retention != nil {
		if *f.Retention < time.Minute {
			return Bot{}, fmt.Errorf("%s.task_retention: %s must be at least 1m", key, *f.Retention)
		}
		b.TaskRetention = *f.Retention
	}
	if n := f.MaxFailures; n != nil {
		if *n < 0 || *n > 1000 {
			return Bot{}, fmt.Errorf("%s.max_consecutive_failures: %d is outside 0..1000 (0 never pauses a task)", key, *n)
		}
		b.MaxConsecutiveFailures = *n
	}
	for _, h := range f.Hosts {
		if h == "" || strings.ContainsAny(h, " /:") {
			return Bot{}, fmt.Errorf("%s.runtime_http_hosts: %q is not a host name", key, h)
		}
		b.Hosts = append(b.Hosts, h)
	}
	if f.Timezone != "" {
		loc, err := time.LoadLocation(f.Timezone)
		if err != nil {
			return Bot{}, fmt.Errorf("%s.timezone: %q is not an IANA zone name", key, f.Timezone)
		}
		b.Location = loc
	}
	if n := f.Outbox.MaxMessages; n != nil {
		if *n < 1 || *n > 1_000_000 {
			return Bot{}, fmt.Errorf("%s.outbox.max_messages: %d is outside 1..1000000", key, *n)
		}
		b.Outbox.MaxMessages = *n
	}
	if d := f.Outbox.MaxAge; d != nil {
		if *d < 0 {
			return Bot{}, fmt.Errorf("%s.outbox.max_age: %s is negative", key, *d)
		}
		b.Outbox.MaxAge = *d
	}
	var err error
	if f.Feishu != nil {
		if b.Feishu, err = buildFeishu(key+".feishu", *f.Feishu); err != nil {
			return Bot{}, err
		}
	}
	if f.LLM != nil {
		if b.LLM, err = buildLLM(key+".llm", *f.LLM, baseDir); err != nil {
			return Bot{}, err
		}
	}
	if b.Goal, err = buildGoal(key+".goal", f, b.LLM != nil); err != nil {
		return Bot{}, err
	}
	b.Workflows = map[string]Workflow{}
	for name, wf := range f.Workflows {
		wkey := key + ".workflows." + name
		if !workflowPattern.MatchString(name) {
			return Bot{}, fmt.Errorf("%s.workflows: name %q must match [A-Za-z0-9_-]{1,64}", key, name)
		}
		if len(wf.Steps) == 0 || len(wf.Steps) > maxWorkflowSteps {
			return Bot{}, fmt.Errorf("%s.steps: need 1 to %d steps, have %d", wkey, maxWorkflowSteps, len(wf.Steps))
		}
		w, err := buildWorkflow(wkey, wf.Steps, b.LLM != nil)
		if err != nil {
			return Bot{}, err
		}
		b.Workflows[name] = w
	}
	return b, nil
}

// checkAddr refuses addresses that are not host:port, and non-loopback hosts
// unless allowed: the API is local by design.
func checkAddr(addr string, allowRemote bool) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%q is not host:port", addr)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("%q has an invalid port", addr)
	}
	if allowRemote {
		return nil
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("%q is not a loopback address; the API is local by design (set runtime_http_allow_remote: true to allow it)", addr)
}

func checkToken(tok string) error {
	if len(tok) < 16 {
		return errors.New("must be at least 16 characters (leave it empty to generate one)")
	}
	if strings.ContainsFunc(tok, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return errors.New("must not contain spaces or control characters")
	}
	return nil
}

func buildFeishu(key string, f feishuFile) (*Feishu, error) {
	out := &Feishu{AppID: f.AppID, AppSecret: f.AppSecret, AppSecretEnv: f.AppSecretEnv, BaseURL: f.BaseURL}
	if out.AppID == "" {
		return nil, fmt.Errorf("%s.app_id: required when feishu is configured", key)
	}
	switch {
	case f.AppSecret != "" && f.AppSecretEnv != "":
		return nil, fmt.Errorf("%s: set app_secret or app_secret_env, not both", key)
	case f.AppSecretEnv != "":
		if !envNamePattern.MatchString(f.AppSecretEnv) {
			return nil, fmt.Errorf("%s.app_secret_env: %q is not an environment variable name", key, f.AppSecretEnv)
		}
	case f.AppSecret == "":
		return nil, fmt.Errorf("%s.app_secret: required (or app_secret_env)", key)
	}
	if out.BaseURL == "" {
		out.BaseURL = DefaultFeishuBaseURL
	}
	if err := checkHTTPURL(out.BaseURL); err != nil {
		return nil, fmt.Errorf("%s.base_url: %w", key, err)
	}
	out.BaseURL = strings.TrimRight(out.BaseURL, "/")
	return out, nil
}

func buildLLM(key string, f llmFile, baseDir string) (*LLM, error) {
	out := &LLM{Command: f.Command, Timeout: DefaultLLMTimeout, Retries: DefaultLLMRetries, MaxConcurrency: DefaultAgents}
	switch {
	case len(f.Command) > 0 && f.OpenAI != nil:
		return nil, fmt.Errorf("%s: set command or openai, not both", key)
	case len(f.Command) > 0:
		if f.Command[0] == "" {
			return nil, fmt.Errorf("%s.command: the program name is empty", key)
		}
	case f.OpenAI != nil:
		o := f.OpenAI
		if err := checkHTTPURL(o.BaseURL); err != nil {
			return nil, fmt.Errorf("%s.openai.base_url: %w", key, err)
		}
		if o.Model == "" {
			return nil, fmt.Errorf("%s.openai.model: required", key)
		}
		if o.APIKeyEnv != "" && !envNamePattern.MatchString(o.APIKeyEnv) {
			return nil, fmt.Errorf("%s.openai.api_key_env: %q is not an environment variable name", key, o.APIKeyEnv)
		}
		out.OpenAI = &OpenAI{BaseURL: strings.TrimRight(o.BaseURL, "/"), APIKeyEnv: o.APIKeyEnv, Model: o.Model,
			Organization: o.Organization, Project: o.Project}
	default:
		return nil, fmt.Errorf("%s: set command or openai", key)
	}
	if out.OpenAI != nil && (f.Workdir != "" || len(f.Env) > 0 || f.InheritEnv != nil) {
		return nil, fmt.Errorf("%s: workdir, env and inherit_env are for a command; an openai endpoint takes none", key)
	}
	if f.Workdir != "" {
		dir := f.Workdir
		if !filepath.IsAbs(dir) && baseDir != "" {
			dir = filepath.Join(baseDir, dir)
		}
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
			return nil, fmt.Errorf("%s.workdir: %s is not a directory", key, dir)
		}
		out.Workdir = dir
	}
	for name, value := range f.Env {
		if !envNamePattern.MatchString(name) {
			return nil, fmt.Errorf("%s.env: %q is not an environment variable name", key, name)
		}
		out.Env = append(out.Env, name+"="+value)
	}
	sort.Strings(out.Env)
	if f.InheritEnv != nil {
		out.InheritEnv = []string{}
		for _, name := range f.InheritEnv {
			if !envNamePattern.MatchString(name) {
				return nil, fmt.Errorf("%s.inherit_env: %q is not an environment variable name", key, name)
			}
			out.InheritEnv = append(out.InheritEnv, name)
		}
	}
	if f.Timeout != nil {
		if *f.Timeout <= 0 || *f.Timeout > time.Hour {
			return nil, fmt.Errorf("%s.timeout: %s is outside (0, 1h]", key, *f.Timeout)
		}
		out.Timeout = *f.Timeout
	}
	if n := f.Retries; n != nil {
		if *n < 0 || *n > 10 {
			return nil, fmt.Errorf("%s.retries: %d is outside 0..10", key, *n)
		}
		out.Retries = *n
	}
	if n := f.MaxConcurrency; n != nil {
		if *n < 1 || *n > 256 {
			return nil, fmt.Errorf("%s.max_concurrency: %d is outside 1..256", key, *n)
		}
		out.MaxConcurrency = *n
	}
	return out, nil
}

func buildGoal(key string, f botFile, haveLLM bool) (Goal, error) {
	g := Goal{Loop: haveLLM}
	if f.Goal.Loop != nil {
		if *f.Goal.Loop && !haveLLM {
			return Goal{}, fmt.Errorf("%s.loop: the goal loop runs the bot's agent, and the bot has no llm configured", key)
		}
		g.Loop = *f.Goal.Loop
	}
	if d := f.Goal.DefaultDeadline; d != nil {
		if *d <= 0 {
			return Goal{}, fmt.Errorf("%s.default_deadline: %s must be positive (leave it out for none)", key, *d)
		}
		g.DefaultDeadline = *d
	}
	if f.Goal.Prompt != "" {
		t, err := template.New(key + ".prompt").Option("missingkey=error").Parse(f.Goal.Prompt)
		if err != nil {
			return Goal{}, fmt.Errorf("%s.prompt: %w", key, err)
		}
		// Execute it now, for a goal with a deadline and one without, so
		// that a field that does not exist fails at start rather than at
		// the first iteration.
		now := time.Now()
		deadline := now.Add(time.Hour)
		if err := t.Execute(io.Discard, GoalPromptData{Objective: "x", Now: now, Deadline: &deadline, Remaining: time.Hour, Iteration: 1}); err != nil {
			return Goal{}, fmt.Errorf("%s.prompt: %w", key, err)
		}
		if err := t.Execute(io.Discard, GoalPromptData{Objective: "x", Now: now, Iteration: 1}); err != nil {
			return Goal{}, fmt.Errorf("%s.prompt: fails for a goal without a deadline (guard it with {{if .Deadline}}): %w", key, err)
		}
		g.Prompt = t
	}
	return g, nil
}

// buildWorkflow checks the steps and runs each template once over sample
// data holding exactly the outputs of the steps before it, so a template
// that names a step that does not exist, or one that comes later, fails at
// start, naming the workflow and the step.
func buildWorkflow(key string, raws []map[string]string, haveLLM bool) (Workflow, error) {
	var w Workflow
	sample := StepData{Input: "input", Previous: "previous", Steps: map[string]string{}}
	for i, raw := range raws {
		skey := fmt.Sprintf("%s.steps[%d]", key, i)
		step, err := buildStep(skey, raw, haveLLM)
		if err != nil {
			return Workflow{}, err
		}
		if step.Name != "" {
			if _, dup := sample.Steps[step.Name]; dup {
				return Workflow{}, fmt.Errorf("%s.name: %q names an earlier step too", skey, step.Name)
			}
		}
		if err := step.Template().Execute(io.Discard, sample); err != nil {
			return Workflow{}, fmt.Errorf("%s: %w", skey, err)
		}
		sample.Steps[strconv.Itoa(i)] = "output"
		if step.Name != "" {
			sample.Steps[step.Name] = "output"
		}
		w.Steps = append(w.Steps, step)
	}
	return w, nil
}

// Template is the step's template, whichever kind it is.
func (s Step) Template() *template.Template {
	if s.RunLLM != nil {
		return s.RunLLM
	}
	return s.SendText
}

// Kind is "run_llm" or "send_text".
func (s Step) Kind() string {
	if s.RunLLM != nil {
		return "run_llm"
	}
	return "send_text"
}

func buildStep(key string, raw map[string]string, haveLLM bool) (Step, error) {
	var s Step
	if name, ok := raw["name"]; ok {
		if !stepNamePattern.MatchString(name) {
			return Step{}, fmt.Errorf("%s.name: %q must match [A-Za-z_][A-Za-z0-9_]{0,63}, so that {{.Steps.%s}} can name it", key, name, name)
		}
		s.Name = name
	}
	kinds := 0
	for kind, text := range raw {
		if kind == "name" {
			continue
		}
		kinds++
		t, err := template.New(key).Option("missingkey=error").Parse(text)
		if err != nil {
			return Step{}, fmt.Errorf("%s.%s: %w", key, kind, err)
		}
		switch kind {
		case "run_llm":
			if !haveLLM {
				return Step{}, fmt.Errorf("%s.run_llm: the bot has no llm configured", key)
			}
			s.RunLLM = t
		case "send_text":
			s.SendText = t
		default:
			return Step{}, fmt.Errorf("%s: unknown key %q (want run_llm or send_text, and optionally name)", key, kind)
		}
	}
	if kinds != 1 {
		return Step{}, fmt.Errorf("%s: a step has exactly one of run_llm or send_text", key)
	}
	return s, nil
}

func checkHTTPURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q is not an http(s) URL", s)
	}
	return nil
}

// BotDir is where a bot keeps its files (the generated token).
func (c *Config) BotDir(botID string) string {
	return filepath.Join(c.DataDir, "bots", botID)
}

// StoreDir is where the badger database lives.
func (c *Config) StoreDir() string {
	return filepath.Join(c.DataDir, "store")
}

// Bot returns the bot with the given id.
func (c *Config) Bot(id string) (Bot, bool) {
	for _, b := range c.Bots {
		if b.ID == id {
			return b, true
		}
	}
	return Bot{}, false
}
