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

// maxField is the highest field number of a task record; every number
// from 1 to it is a field.
const maxField = fieldFailures

// scalarFields lists where ts keeps each field of a task record that is a
// string or a number, by field number. Encoding and decoding both use it,
// so that the two cannot disagree.
func scalarFields(ts *alice.TaskState) (strs [maxField + 1]*string, nums [maxField + 1]*int) {
	strs = [maxField + 1]*string{
		fieldAction:       (*string)(&ts.Action),
		fieldStatus:       (*string)(&ts.Status),
		fieldTitle:        &ts.Title,
		fieldText:         &ts.Text,
		fieldPrompt:       &ts.Prompt,
		fieldWorkflow:     &ts.Workflow,
		fieldCron:         &ts.Cron,
		fieldTimezone:     &ts.Timezone,
		fieldLastError:    &ts.LastError,
		fieldPausedReason: &ts.PausedReason,
	}
	nums = [maxField + 1]*int{
		fieldMaxRuns:  &ts.MaxRuns,
		fieldRunCount: &ts.RunCount,
		fieldRecorded: &ts.Recorded,
		fieldFailures: &ts.Failures,
	}
	return strs, nums
}

// originFields is scalarFields for a task's origin.
func originFields(o *alice.Conversation) [originSessionKey + 1]*string {
	return [originSessionKey + 1]*string{
		originReceiveIDType:   (*string)(&o.ReceiveIDType),
		originReceiveID:       &o.ReceiveID,
		originChatType:        &o.ChatType,
		originSourceMessageID: &o.SourceMessageID,
		originActorUserID:     &o.ActorUserID,
		originActorOpenID:     &o.ActorOpenID,
		originSessionKey:      &o.SessionKey,
	}
}

// encodeTask encodes a compact task record (formats 5 and 6). A field
// that is empty or zero is left out, as JSON's omitempty did.
func encodeTask(ts *alice.TaskState) ([]byte, error) {
	b := make([]byte, 1, 96+len(ts.Title)+len(ts.Text)+len(ts.Prompt)+len(ts.LastError))
	b[0] = recordTask
	strs, nums := scalarFields(ts)
	b = appendStrings(b, strs[:])
	for n, x := range nums {
		if x != nil && *x != 0 {
			b = protowire.AppendTag(b, protowire.Number(n), protowire.VarintType)
			b = protowire.AppendVarint(b, uint64(int64(*x)))
		}
	}
	if ts.Origin != nil {
		o := originFields(ts.Origin)
		b = protowire.AppendTag(b, fieldOrigin, protowire.BytesType)
		b = protowire.AppendBytes(b, appendStrings(nil, o[:]))
	}
	b, err := appendTimes(b, ts)
	if err != nil {
		return nil, fmt.Errorf("encode task record: %w", err)
	}
	return b, nil
}

// appendStrings appends the non-empty strings of fields, each as the field
// numbered by its index.
func appendStrings(b []byte, fields []*string) []byte {
	for n, s := range fields {
		if s != nil && *s != "" {
			b = protowire.AppendTag(b, protowire.Number(n), protowire.BytesType)
			b = protowire.AppendString(b, *s)
		}
	}
	return b
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

// taskRecordStatus reads the status of a task record of any format. Of a
// compact record it reads nothing else: a conversation's listings by
// status read every record of the conversation this way.
func taskRecordStatus(v []byte) (alice.TaskStatus, error) {
	if len(v) == 0 || v[0] != recordTask {
		var ts alice.TaskState
		err := decodeTaskRecord(v, &ts)
		return ts.Status, err
	}
	for b := v[1:]; len(b) > 0; {
		f, rest, err := nextField(b)
		if err != nil {
			return "", fmt.Errorf("decode task record: %w", err)
		}
		if f.n == fieldStatus {
			if err := f.hasType(protowire.BytesType); err != nil {
				return "", fmt.Errorf("decode task record: %w", err)
			}
			for _, s := range alice.TaskStatuses() {
				if string(f.bytes) == string(s) {
					return s, nil // without allocating
				}
			}
			return alice.TaskStatus(f.bytes), nil
		}
		b = rest
	}
	return "", nil
}

func decodeWireTask(b []byte, ts *alice.TaskState) error {
	strs, nums := scalarFields(ts)
	var times [maxField + 1][]byte
	var hasTime [maxField + 1]bool
	for len(b) > 0 {
		f, rest, err := nextField(b)
		if err != nil {
			return err
		}
		b = rest
		if f.n < 1 || f.n > maxField {
			return fmt.Errorf("field %d is not a field of a task record (written by a newer alice?)", f.n)
		}
		want := protowire.BytesType
		if nums[f.n] != nil {
			want = protowire.VarintType
		}
		if err := f.hasType(want); err != nil {
			return err
		}
		switch {
		case strs[f.n] != nil:
			*strs[f.n] = string(f.bytes)
		case nums[f.n] != nil:
			*nums[f.n] = int(int64(f.varint))
		case f.n == fieldOrigin:
			o, err := decodeOrigin(f.bytes)
			if err != nil {
				return fmt.Errorf("origin: %w", err)
			}
			ts.Origin = o
		default: // a time, read below, once every field it may be the same as has been read
			times[f.n], hasTime[f.n] = f.bytes, true
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

// wireField is one field of a record in protocol buffers' wire format.
type wireField struct {
	n      protowire.Number
	typ    protowire.Type
	bytes  []byte // of a BytesType field
	varint uint64 // of a VarintType field
}

// hasType refuses f unless it is of wire type want: the field's number
// says which type it must be.
func (f wireField) hasType(want protowire.Type) error {
	if f.typ != want {
		return fmt.Errorf("field %d has wire type %d, want %d", f.n, f.typ, want)
	}
	return nil
}

// nextField reads the field at the front of b and returns it and the rest
// of b. Records have fields of two wire types only.
func nextField(b []byte) (wireField, []byte, error) {
	var f wireField
	var l int
	f.n, f.typ, l = protowire.ConsumeTag(b)
	if l < 0 {
		return f, nil, protowire.ParseError(l)
	}
	b = b[l:]
	switch f.typ {
	case protowire.BytesType:
		f.bytes, l = protowire.ConsumeBytes(b)
	case protowire.VarintType:
		f.varint, l = protowire.ConsumeVarint(b)
	default:
		return f, nil, fmt.Errorf("field %d has wire type %d, which no field of a record has (written by a newer alice?)", f.n, f.typ)
	}
	if l < 0 {
		return f, nil, fmt.Errorf("field %d: %w", f.n, protowire.ParseError(l))
	}
	return f, b[l:], nil
}

func decodeOrigin(b []byte) (*alice.Conversation, error) {
	var o alice.Conversation
	fields := originFields(&o)
	for len(b) > 0 {
		f, rest, err := nextField(b)
		if err != nil {
			return nil, err
		}
		b = rest
		if f.n < 1 || int(f.n) >= len(fields) || f.typ != protowire.BytesType {
			return nil, fmt.Errorf("field %d of wire type %d is not a field of an origin (written by a newer alice?)", f.n, f.typ)
		}
		*fields[f.n] = string(f.bytes)
	}
	return &o, nil
}
