package badgerstore

import (
	"bytes"
	"fmt"
	"time"

	"github.com/alice-runtime/alice"
	"google.golang.org/protobuf/encoding/protowire"
)

// Task records are the bulk of what a create writes, and every flush and
// compaction writes them again, so format 5 stores them compactly: the
// version byte recordTask and then protocol buffers' wire format, with no
// schema beyond the field numbers below. A new one-shot task's record of
// 244 bytes in JSON takes 69 (BENCHMARKS.md, "Compact task records").
// Records of format 4 and older (recordV2 and JSON) stay readable as they
// are.
//
// Like format 4, a record leaves out the task's id and scope, which its key
// holds. Each time is time.Time's binary form, which keeps its zone offset
// as JSON did. A run time is usually stored more than once in a task
// (run_at, next_run_at, due; created_at and updated_at), so three times may
// be stored as an empty field meaning "the same as": next_run_at as run_at,
// due as next_run_at, updated_at as created_at.
const recordTask byte = 3

// The field numbers of a task record are part of the storage format: never
// reuse or renumber one.
const (
	fieldAction       protowire.Number = 1
	fieldStatus       protowire.Number = 2
	fieldTitle        protowire.Number = 3
	fieldText         protowire.Number = 4
	fieldPrompt       protowire.Number = 5
	fieldWorkflow     protowire.Number = 6
	fieldCron         protowire.Number = 7
	fieldTimezone     protowire.Number = 8
	fieldRunAt        protowire.Number = 9
	fieldMaxRuns      protowire.Number = 10
	fieldNextRunAt    protowire.Number = 11 // empty: the same as run_at
	fieldLastRunAt    protowire.Number = 12
	fieldRunCount     protowire.Number = 13
	fieldLastError    protowire.Number = 14
	fieldPausedReason protowire.Number = 15
	fieldCreatedAt    protowire.Number = 16
	fieldUpdatedAt    protowire.Number = 17 // empty: the same as created_at
	fieldRecorded     protowire.Number = 18
	fieldDue          protowire.Number = 19 // empty: the same as next_run_at
	fieldOrigin       protowire.Number = 20 // a message of the origin fields below
	fieldFailures     protowire.Number = 21
)

// The fields of a task's origin, inside fieldOrigin.
const (
	originReceiveIDType   protowire.Number = 1
	originReceiveID       protowire.Number = 2
	originChatType        protowire.Number = 3
	originSourceMessageID protowire.Number = 4
	originActorUserID     protowire.Number = 5
	originActorOpenID     protowire.Number = 6
	originSessionKey      protowire.Number = 7
)

// encodeTask encodes a task record of format 5.
func encodeTask(ts *alice.TaskState) ([]byte, error) {
	b := make([]byte, 1, 96+len(ts.Title)+len(ts.Text)+len(ts.Prompt)+len(ts.LastError))
	b[0] = recordTask
	b = appendString(b, fieldAction, string(ts.Action))
	b = appendString(b, fieldStatus, string(ts.Status))
	b = appendString(b, fieldTitle, ts.Title)
	b = appendString(b, fieldText, ts.Text)
	b = appendString(b, fieldPrompt, ts.Prompt)
	b = appendString(b, fieldWorkflow, ts.Workflow)
	b = appendString(b, fieldCron, ts.Cron)
	b = appendString(b, fieldTimezone, ts.Timezone)
	b = appendInt(b, fieldMaxRuns, ts.MaxRuns)
	b = appendInt(b, fieldRunCount, ts.RunCount)
	b = appendString(b, fieldLastError, ts.LastError)
	b = appendString(b, fieldPausedReason, ts.PausedReason)
	b = appendInt(b, fieldRecorded, ts.Recorded)
	b = appendInt(b, fieldFailures, ts.Failures)
	if o := ts.Origin; o != nil {
		var m []byte
		m = appendString(m, originReceiveIDType, string(o.ReceiveIDType))
		m = appendString(m, originReceiveID, o.ReceiveID)
		m = appendString(m, originChatType, o.ChatType)
		m = appendString(m, originSourceMessageID, o.SourceMessageID)
		m = appendString(m, originActorUserID, o.ActorUserID)
		m = appendString(m, originActorOpenID, o.ActorOpenID)
		m = appendString(m, originSessionKey, o.SessionKey)
		b = protowire.AppendTag(b, fieldOrigin, protowire.BytesType)
		b = protowire.AppendBytes(b, m)
	}

	b, err := appendTimes(b, ts)
	if err != nil {
		return nil, fmt.Errorf("encode task record: %w", err)
	}
	return b, nil
}

func appendString(b []byte, n protowire.Number, s string) []byte {
	if s == "" {
		return b
	}
	b = protowire.AppendTag(b, n, protowire.BytesType)
	return protowire.AppendString(b, s)
}

func appendInt(b []byte, n protowire.Number, x int) []byte {
	if x == 0 {
		return b
	}
	b = protowire.AppendTag(b, n, protowire.VarintType)
	return protowire.AppendVarint(b, uint64(int64(x)))
}

// timeField is a time of a task record and where it is kept.
type timeField struct {
	n protowire.Number
	t **time.Time
}

// timeChains lists the times of a task record in chains: a time stored as
// an empty field is the same as the one before it in its chain. created
// and updated stand for ts's CreatedAt and UpdatedAt, which are not
// pointers.
func timeChains(ts *alice.TaskState, created, updated **time.Time) [3][]timeField {
	return [3][]timeField{
		{{fieldRunAt, &ts.RunAt}, {fieldNextRunAt, &ts.NextRunAt}, {fieldDue, &ts.Due}},
		{{fieldCreatedAt, created}, {fieldUpdatedAt, updated}},
		{{fieldLastRunAt, &ts.LastRunAt}},
	}
}

func appendTimes(b []byte, ts *alice.TaskState) ([]byte, error) {
	created, updated := &ts.CreatedAt, &ts.UpdatedAt
	for _, chain := range timeChains(ts, &created, &updated) {
		var prev []byte
		for _, f := range chain {
			if *f.t == nil {
				prev = nil
				continue
			}
			enc, err := (*f.t).MarshalBinary()
			if err != nil {
				return nil, fmt.Errorf("field %d: %w", f.n, err)
			}
			b = protowire.AppendTag(b, f.n, protowire.BytesType)
			if bytes.Equal(enc, prev) {
				b = protowire.AppendBytes(b, nil)
			} else {
				b = protowire.AppendBytes(b, enc)
			}
			prev = enc
		}
	}
	return b, nil
}

// decodeTaskRecord decodes a task record of any format into ts, leaving
// the fields its key holds as the record has them: empty unless it is of
// format 3 or older.
func decodeTaskRecord(v []byte, ts *alice.TaskState) error {
	*ts = alice.TaskState{}
	if len(v) > 0 && v[0] == recordTask {
		if err := decodeWireTask(v[1:], ts); err != nil {
			return fmt.Errorf("decode task record: %w", err)
		}
		return nil
	}
	return decodeRecord(v, ts)
}

func decodeWireTask(b []byte, ts *alice.TaskState) error {
	var times [fieldFailures + 1][]byte
	var hasTime [fieldFailures + 1]bool
	for len(b) > 0 {
		n, typ, l := protowire.ConsumeTag(b)
		if l < 0 {
			return protowire.ParseError(l)
		}
		b = b[l:]
		var s []byte
		var x uint64
		switch typ {
		case protowire.BytesType:
			s, l = protowire.ConsumeBytes(b)
		case protowire.VarintType:
			x, l = protowire.ConsumeVarint(b)
		default:
			return fmt.Errorf("field %d has wire type %d, which no field of a task record has (written by a newer alice?)", n, typ)
		}
		if l < 0 {
			return fmt.Errorf("field %d: %w", n, protowire.ParseError(l))
		}
		b = b[l:]
		if want := fieldType(n); want != typ {
			if want < 0 {
				return fmt.Errorf("field %d is not a field of a task record (written by a newer alice?)", n)
			}
			return fmt.Errorf("field %d has wire type %d, want %d", n, typ, want)
		}
		switch n {
		case fieldAction:
			ts.Action = alice.TaskAction(s)
		case fieldStatus:
			ts.Status = alice.TaskStatus(s)
		case fieldTitle:
			ts.Title = string(s)
		case fieldText:
			ts.Text = string(s)
		case fieldPrompt:
			ts.Prompt = string(s)
		case fieldWorkflow:
			ts.Workflow = string(s)
		case fieldCron:
			ts.Cron = string(s)
		case fieldTimezone:
			ts.Timezone = string(s)
		case fieldLastError:
			ts.LastError = string(s)
		case fieldPausedReason:
			ts.PausedReason = string(s)
		case fieldMaxRuns:
			ts.MaxRuns = int(int64(x))
		case fieldRunCount:
			ts.RunCount = int(int64(x))
		case fieldRecorded:
			ts.Recorded = int(int64(x))
		case fieldFailures:
			ts.Failures = int(int64(x))
		case fieldOrigin:
			o, err := decodeOrigin(s)
			if err != nil {
				return fmt.Errorf("origin: %w", err)
			}
			ts.Origin = o
		default: // a time, read below, once every field it may be the same as has been read
			times[n], hasTime[n] = s, true
		}
	}

	var created, updated *time.Time
	for _, chain := range timeChains(ts, &created, &updated) {
		var prev *time.Time
		for _, f := range chain {
			if !hasTime[f.n] {
				prev = nil
				continue
			}
			var t time.Time
			if enc := times[f.n]; len(enc) > 0 {
				if err := t.UnmarshalBinary(enc); err != nil {
					return fmt.Errorf("field %d: %w", f.n, err)
				}
				if err := answerable(t); err != nil {
					return fmt.Errorf("field %d: %w", f.n, err)
				}
			} else if prev != nil {
				t = *prev
			} else {
				return fmt.Errorf("field %d is empty, and no time comes before it in its chain", f.n)
			}
			*f.t, prev = &t, &t
		}
	}
	if created != nil {
		ts.CreatedAt = *created
	}
	if updated != nil {
		ts.UpdatedAt = *updated
	}
	return nil
}

// answerable refuses a time that an answer could not hold: RFC 3339, as
// JSON writes times, has four-digit years and offsets under a day. A JSON
// record could not hold one either.
func answerable(t time.Time) error {
	if y := t.Year(); y < 0 || y > 9999 {
		return fmt.Errorf("year %d is outside 0-9999", y)
	}
	if _, off := t.Zone(); off <= -24*3600 || off >= 24*3600 {
		return fmt.Errorf("zone offset %ds is a day or more", off)
	}
	return nil
}

// fieldType is the wire type of task record field n, or -1 if there is no
// such field.
func fieldType(n protowire.Number) protowire.Type {
	switch n {
	case fieldMaxRuns, fieldRunCount, fieldRecorded, fieldFailures:
		return protowire.VarintType
	}
	if n >= fieldAction && n <= fieldFailures {
		return protowire.BytesType
	}
	return -1
}

func decodeOrigin(b []byte) (*alice.Conversation, error) {
	var o alice.Conversation
	for len(b) > 0 {
		n, typ, l := protowire.ConsumeTag(b)
		if l < 0 {
			return nil, protowire.ParseError(l)
		}
		b = b[l:]
		if typ != protowire.BytesType || n < originReceiveIDType || n > originSessionKey {
			return nil, fmt.Errorf("field %d of wire type %d is not a field of an origin (written by a newer alice?)", n, typ)
		}
		s, l := protowire.ConsumeString(b)
		if l < 0 {
			return nil, fmt.Errorf("field %d: %w", n, protowire.ParseError(l))
		}
		b = b[l:]
		switch n {
		case originReceiveIDType:
			o.ReceiveIDType = alice.ReceiveIDType(s)
		case originReceiveID:
			o.ReceiveID = s
		case originChatType:
			o.ChatType = s
		case originSourceMessageID:
			o.SourceMessageID = s
		case originActorUserID:
			o.ActorUserID = s
		case originActorOpenID:
			o.ActorOpenID = s
		case originSessionKey:
			o.SessionKey = s
		}
	}
	return &o, nil
}
