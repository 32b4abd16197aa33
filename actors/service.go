package actors

import (
	"context"
	"time"

	"github.com/alice-runtime/alice"
	"github.com/alice-runtime/alice/media"
	"github.com/alice-runtime/alice/messenger"
)

// Service is one bot's goal, task and message services, in-process. It finds
// the conversation each call belongs to and routes the call there; reads
// that need no conversation go to the store, which holds everything a
// conversation has acknowledged.
type Service struct {
	rt  *Runtime
	bot string
	cfg BotConfig
}

var _ alice.Services = (*Service)(nil)

// Bot returns the services of bot id.
func (rt *Runtime) Bot(id string) *Service {
	cfg := rt.cfg.Bots[id]
	cfg.setDefaults()
	return &Service{rt: rt, bot: id, cfg: cfg}
}

// key checks the conversation a call comes from and names its actor.
func (s *Service) key(conv alice.Conversation) (alice.ConversationKey, error) {
	if err := conv.Validate(); err != nil {
		return alice.ConversationKey{}, err
	}
	return alice.ConversationKey{Bot: s.bot, Scope: conv.Scope()}, nil
}

func (s *Service) goal(ctx context.Context, conv alice.Conversation, cmd goalCmd) (*alice.Goal, error) {
	key, err := s.key(conv)
	if err != nil {
		return nil, err
	}
	v, err := s.rt.request(ctx, key, cmd)
	g, _ := v.(*alice.Goal)
	return g, err
}

// GetGoal implements alice.GoalService.
func (s *Service) GetGoal(ctx context.Context, conv alice.Conversation) (*alice.Goal, error) {
	return s.goal(ctx, conv, goalCmd{cmd: alice.GoalCommand{Op: alice.OpGet}})
}

// CreateGoal implements alice.GoalService.
func (s *Service) CreateGoal(ctx context.Context, conv alice.Conversation, req alice.GoalCreate) (*alice.Goal, error) {
	if req.IdempotencyKey != "" {
		if err := alice.CheckIdempotencyKey(req.IdempotencyKey); err != nil {
			return nil, err
		}
	}
	cmd := alice.GoalCommand{Op: alice.OpCreate, Description: req.Description, DeadlineIn: req.DeadlineIn}
	return s.goal(ctx, conv, goalCmd{cmd: cmd, key: req.IdempotencyKey, origin: conv})
}

// PauseGoal implements alice.GoalService.
func (s *Service) PauseGoal(ctx context.Context, conv alice.Conversation) (*alice.Goal, error) {
	return s.goal(ctx, conv, goalCmd{cmd: alice.GoalCommand{Op: alice.OpPause}})
}

// ResumeGoal implements alice.GoalService.
func (s *Service) ResumeGoal(ctx context.Context, conv alice.Conversation) (*alice.Goal, error) {
	return s.goal(ctx, conv, goalCmd{cmd: alice.GoalCommand{Op: alice.OpResume}})
}

// CompleteGoal implements alice.GoalService.
func (s *Service) CompleteGoal(ctx context.Context, conv alice.Conversation) (*alice.Goal, error) {
	return s.goal(ctx, conv, goalCmd{cmd: alice.GoalCommand{Op: alice.OpComplete}})
}

// DeleteGoal implements alice.GoalService.
func (s *Service) DeleteGoal(ctx context.Context, conv alice.Conversation) error {
	_, err := s.goal(ctx, conv, goalCmd{cmd: alice.GoalCommand{Op: alice.OpDelete}})
	return err
}

// DelayGoal implements alice.GoalService.
func (s *Service) DelayGoal(ctx context.Context, conv alice.Conversation, req alice.GoalDelay) (*alice.Goal, error) {
	if err := alice.CheckDelay(req.Duration, req.Reason); err != nil {
		return nil, err
	}
	return s.goal(ctx, conv, goalCmd{cmd: alice.GoalCommand{Op: alice.OpDelay, Delay: req.Duration, Reason: req.Reason}})
}

// CreateTask implements alice.TaskService: the task's scope names its
// conversation.
func (s *Service) CreateTask(ctx context.Context, req alice.TaskCreate) (*alice.Task, error) {
	if req.IdempotencyKey != "" {
		if err := alice.CheckIdempotencyKey(req.IdempotencyKey); err != nil {
			return nil, err
		}
	}
	scope, err := alice.ParseScope(req.Input.ScopeType.Value, req.Input.ScopeID.Value)
	if err != nil {
		return nil, err
	}
	v, err := s.rt.request(ctx, alice.ConversationKey{Bot: s.bot, Scope: scope}, createTask{req: req})
	t, _ := v.(*alice.Task)
	return t, err
}

var errTaskNotFound = &alice.Error{Code: alice.ENotFound, Message: "task not found"}

// owner finds the conversation that owns task id.
func (s *Service) owner(ctx context.Context, id string) (*alice.TaskState, alice.ConversationKey, error) {
	if alice.CheckID("task id", id) != nil {
		return nil, alice.ConversationKey{}, errTaskNotFound
	}
	return s.rt.cfg.Store.Task(ctx, s.bot, id)
}

// GetTask implements alice.TaskService.
func (s *Service) GetTask(ctx context.Context, id string) (*alice.Task, error) {
	ts, _, err := s.owner(ctx, id)
	if err != nil {
		return nil, err
	}
	return &ts.Task, nil
}

// ListTasks implements alice.TaskService.
func (s *Service) ListTasks(ctx context.Context, f alice.TaskFilter, p alice.Page) ([]alice.Task, int, error) {
	if err := f.Check(); err != nil {
		return nil, 0, err
	}
	if err := p.Check(); err != nil {
		return nil, 0, err
	}
	return s.rt.cfg.Store.Tasks(ctx, s.bot, f, p)
}

// PatchTask implements alice.TaskService.
func (s *Service) PatchTask(ctx context.Context, id string, patch alice.TaskInput) (*alice.Task, error) {
	_, key, err := s.owner(ctx, id)
	if err != nil {
		return nil, err
	}
	v, err := s.rt.request(ctx, key, patchTask{id: id, patch: patch})
	t, _ := v.(*alice.Task)
	return t, err
}

// DeleteTask implements alice.TaskService.
func (s *Service) DeleteTask(ctx context.Context, id string) error {
	_, key, err := s.owner(ctx, id)
	if err != nil {
		return err
	}
	_, err = s.rt.request(ctx, key, deleteTask{id: id})
	return err
}

// TaskRuns implements alice.TaskService.
func (s *Service) TaskRuns(ctx context.Context, id string, p alice.Page) ([]alice.Run, int, error) {
	if err := p.Check(); err != nil {
		return nil, 0, err
	}
	if _, _, err := s.owner(ctx, id); err != nil {
		return nil, 0, err
	}
	return s.rt.cfg.Store.Runs(ctx, id, p)
}

// SendMessage implements alice.MessageService. To the local outbox, the
// conversation stores the message. To a chat platform, the send happens
// here, outside the conversation, so a slow platform does not hold the
// conversation; an Idempotency-Key is checked before and recorded after,
// and the platform's own dedupe key (derived from the conversation and the
// key) covers a crash in between.
func (s *Service) SendMessage(ctx context.Context, conv alice.Conversation, req alice.MessageSend) (string, error) {
	key, err := s.key(conv)
	if err != nil {
		return "", err
	}
	if req.IdempotencyKey != "" {
		if err := alice.CheckIdempotencyKey(req.IdempotencyKey); err != nil {
			return "", err
		}
	}
	if err := prepare(&req.Message); err != nil {
		return "", err
	}
	if s.cfg.Messenger == nil {
		v, err := s.rt.request(ctx, key, sendLocal{req: req})
		id, _ := v.(string)
		return id, err
	}
	fp := req.Fingerprint()
	if req.IdempotencyKey != "" {
		v, err := s.rt.request(ctx, key, checkKey{key: req.IdempotencyKey, fingerprint: fp})
		if err != nil {
			return "", err
		}
		if id, _ := v.(string); id != "" {
			return id, nil
		}
	}
	dedupe := ""
	if req.IdempotencyKey != "" {
		dedupe = "request/" + key.String() + "/" + req.IdempotencyKey
	}
	id, err := s.cfg.Messenger.Send(ctx, messenger.TargetFor(conv), req.Message, dedupe)
	if err != nil || req.IdempotencyKey == "" {
		return id, err
	}
	// Record the key even if the caller has given up: the platform took
	// the message.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if _, err := s.rt.request(rctx, key, recordKey{key: req.IdempotencyKey, fingerprint: fp, messageID: id}); err != nil {
		s.rt.cfg.Logger.Warn("the message was sent, but its Idempotency-Key was not recorded", "conversation", key.String(), "err", err)
	}
	return id, nil
}

// prepare checks a message to send and fills in what the caller may leave
// out: an image must be one the chat platforms take (read from its bytes,
// not its name), and an attachment without a name gets one.
func prepare(m *alice.Outgoing) error {
	switch m.Kind {
	case alice.KindText:
		if m.Text == "" {
			return alice.Errorf(alice.EInvalid, "a text message needs text")
		}
		return nil
	case alice.KindImage, alice.KindFile:
	default:
		return alice.Errorf(alice.EInvalid, "message kind %s is not text, image or file", alice.Quote(string(m.Kind)))
	}
	part := string(m.Kind)
	switch {
	case m.Key != "" && len(m.Data) > 0:
		return alice.Errorf(alice.EInvalid, "send either the %s or %s_key, not both", part, part)
	case m.Key != "":
		if err := alice.CheckID(part+"_key", m.Key); err != nil {
			return err
		}
	case len(m.Data) == 0:
		return alice.Errorf(alice.EInvalid, "the %s is empty (send the %s part, or %s_key)", part, part, part)
	}
	if m.Kind == alice.KindImage && m.Key == "" {
		img, err := media.DetectImage(m.Data)
		if err != nil {
			return alice.Errorf(alice.EInvalid, "the image is %v (the format is read from the bytes, not the name)", err)
		}
		if m.FileName == "" {
			m.FileName = "image." + img.Format
		}
	}
	if m.FileName == "" && m.Key == "" {
		m.FileName = "file"
	}
	return nil
}

var errNoOutbox = &alice.Error{Code: alice.ENotFound, Message: "this bot sends through a chat platform; the local outbox is not in use"}

// ListMessages implements alice.MessageService.
func (s *Service) ListMessages(ctx context.Context, conv alice.Conversation, p alice.Page) ([]alice.Message, int, error) {
	key, err := s.key(conv)
	if err != nil {
		return nil, 0, err
	}
	if err := p.Check(); err != nil {
		return nil, 0, err
	}
	if s.cfg.Messenger != nil {
		return nil, 0, errNoOutbox
	}
	return s.rt.cfg.Store.Messages(ctx, key, p)
}

// MessageContent implements alice.MessageService. A message sent by its
// platform key has no bytes here.
func (s *Service) MessageContent(ctx context.Context, conv alice.Conversation, id string) (*alice.Message, []byte, error) {
	key, err := s.key(conv)
	if err != nil {
		return nil, nil, err
	}
	if s.cfg.Messenger != nil {
		return nil, nil, errNoOutbox
	}
	if alice.CheckID("message id", id) != nil {
		return nil, nil, alice.Errorf(alice.ENotFound, "message not found")
	}
	m, data, err := s.rt.cfg.Store.MessageContent(ctx, key, id)
	if err == nil && m.Key != "" {
		return nil, nil, alice.Errorf(alice.ENotFound, "message %s was sent by its platform key %s; the outbox holds no bytes for it", id, alice.Quote(m.Key))
	}
	return m, data, err
}
