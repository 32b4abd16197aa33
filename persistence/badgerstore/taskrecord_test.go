package badgerstore

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/alice-runtime/alice"
	"google.golang.org/protobuf/encoding/protowire"
)

// sameTask compares two tasks as the API shows them: every field, each time
// with its instant and zone offset, and nil apart from a zero value.
func sameTask(t *testing.T, got, want *alice.TaskState) {
	t.Helper()
	g, err := json.Marshal(got)
	if err != nil {
		t.Fatal(err)
	}
	w, err := json.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(g, w) {
		t.Fatalf("read back as\n%s\nwant\n%s", g, w)
	}
}

func TestTaskRecordRoundTrip(t *testing.T) {
	shanghai := time.FixedZone("", 8*3600)
	runAt := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	created := time.Date(2026, 11, 29, 2, 3, 5, 443087369, time.UTC)
	later := created.Add(90 * time.Minute)
	ptr := func(t time.Time) *time.Time { return &t }
	oneShot := func() *alice.TaskState {
		return &alice.TaskState{
			Task: alice.Task{Action: alice.ActionSendText, Status: alice.TaskActive, Text: "load",
				RunAt: ptr(runAt), NextRunAt: ptr(runAt), CreatedAt: created, UpdatedAt: created},
			Due: ptr(runAt),
		}
	}
	for _, c := range []struct {
		name string
		task func() *alice.TaskState
		// stored counts the times the record holds whole: the others are
		// the same as one before them.
		stored int
	}{
		{"a one-shot as created", oneShot, 2},
		{"every field", func() *alice.TaskState {
			return &alice.TaskState{
				Task: alice.Task{Action: alice.ActionRunWorkflow, Status: alice.TaskPaused, Title: "日报 daily",
					Text: "t", Prompt: "p", Workflow: "wf", Cron: "0 9 * * *", Timezone: "Asia/Shanghai",
					RunAt: ptr(runAt.In(shanghai)), MaxRuns: 7, NextRunAt: ptr(runAt.Add(24 * time.Hour)),
					LastRunAt: ptr(runAt.Add(time.Second)), RunCount: 3, LastError: "boom", PausedReason: "too many failures",
					CreatedAt: created.In(shanghai), UpdatedAt: later},
				Recorded: 3, Due: ptr(runAt.Add(48 * time.Hour)), Failures: 2,
				Origin: &alice.Conversation{ReceiveIDType: alice.ReceiveChatID, ReceiveID: "oc_1", ChatType: "group",
					SourceMessageID: "om_1", ActorUserID: "u_1", ActorOpenID: "ou_1", SessionKey: "s"},
			}
		}, 6},
		{"the same instant in another zone is stored whole", func() *alice.TaskState {
			ts := oneShot()
			ts.NextRunAt = ptr(runAt.In(shanghai))
			ts.UpdatedAt = created.In(shanghai)
			return ts // due, in UTC, is not the same as next_run_at either
		}, 5},
		{"due the same as run_at, with no next run between them", func() *alice.TaskState {
			ts := oneShot()
			ts.NextRunAt = nil
			return ts
		}, 3},
		{"a completed task", func() *alice.TaskState {
			ts := oneShot()
			ts.Status, ts.NextRunAt, ts.LastRunAt, ts.RunCount, ts.Recorded, ts.UpdatedAt = alice.TaskCompleted, nil, ptr(runAt), 1, 1, later
			ts.Due = ptr(later.Add(alice.DefaultTaskRetention))
			return ts
		}, 5},
		{"zero times and an empty origin", func() *alice.TaskState {
			return &alice.TaskState{Task: alice.Task{Action: alice.ActionRunLLM, Status: alice.TaskCancelled}, Origin: &alice.Conversation{}}
		}, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			want := c.task()
			v, err := encodeTask(c.task())
			if err != nil {
				t.Fatal(err)
			}
			var got alice.TaskState
			if err := decodeTaskRecord(v, &got); err != nil {
				t.Fatal(err)
			}
			sameTask(t, &got, want)
			if n := countStoredTimes(t, v); n != c.stored {
				t.Errorf("the record holds %d times whole, want %d", n, c.stored)
			}
		})
	}
}

// TestTaskRecordHoldsEveryField sets every field of a task's state to a
// value of its own and reads it back: a field added to alice.TaskState
// later and not to the record fails here, instead of being dropped.
func TestTaskRecordHoldsEveryField(t *testing.T) {
	var want alice.TaskState
	n := 0
	var fill func(v reflect.Value, name string)
	fill = func(v reflect.Value, name string) {
		n++
		switch {
		case v.Type() == reflect.TypeFor[time.Time]():
			v.Set(reflect.ValueOf(time.Date(2026, 11, 29, 3, n, 0, n, time.UTC)))
		case v.Kind() == reflect.Struct:
			for i := range v.NumField() {
				fill(v.Field(i), name+"."+v.Type().Field(i).Name)
			}
		case v.Kind() == reflect.Pointer:
			v.Set(reflect.New(v.Type().Elem()))
			fill(v.Elem(), name)
		case v.Kind() == reflect.String:
			v.SetString(fmt.Sprintf("%s %d", name, n))
		case v.Kind() == reflect.Int:
			v.SetInt(int64(n))
		default:
			t.Fatalf("%s is a %s: teach the task record and this test about it", name, v.Type())
		}
	}
	fill(reflect.ValueOf(&want).Elem(), "TaskState")
	want.ID, want.ScopeType, want.ScopeID = "", "", "" // the key holds them

	v, err := encodeTask(&want)
	if err != nil {
		t.Fatal(err)
	}
	var got alice.TaskState
	if err := decodeTaskRecord(v, &got); err != nil {
		t.Fatal(err)
	}
	sameTask(t, &got, &want)
}

// countStoredTimes counts the time fields of record v that are not empty.
func countStoredTimes(t *testing.T, v []byte) int {
	t.Helper()
	n, b := 0, v[1:]
	for len(b) > 0 {
		num, typ, l := protowire.ConsumeTag(b)
		if l < 0 {
			t.Fatalf("record %x: %v", v, protowire.ParseError(l))
		}
		b = b[l:]
		l = protowire.ConsumeFieldValue(num, typ, b)
		if l < 0 {
			t.Fatalf("record %x: %v", v, protowire.ParseError(l))
		}
		switch num {
		case fieldRunAt, fieldNextRunAt, fieldDue, fieldLastRunAt, fieldCreatedAt, fieldUpdatedAt:
			if s, _ := protowire.ConsumeBytes(b); len(s) > 0 {
				n++
			}
		}
		b = b[l:]
	}
	return n
}

// A task record of format 4 or older is JSON after its version byte, and
// reads as it always did.
func TestTaskRecordReadsJSON(t *testing.T) {
	v := []byte("\x02" + `{"action":"send_text","status":"active","text":"hi","run_at":"2026-12-01T09:00:00+08:00","created_at":"2026-11-29T02:03:05Z","updated_at":"2026-11-29T02:03:05Z","recorded":2}`)
	var ts alice.TaskState
	if err := decodeTaskRecord(v, &ts); err != nil {
		t.Fatal(err)
	}
	if ts.Text != "hi" || ts.Recorded != 2 || ts.RunAt.Format(time.RFC3339) != "2026-12-01T09:00:00+08:00" {
		t.Fatalf("read %+v", ts)
	}
}

// TestTaskRecordStatus: the status read alone agrees with the whole
// record's, for every status and both kinds of record, and a record that
// breaks before its status is refused.
func TestTaskRecordStatus(t *testing.T) {
	compact := func(s alice.TaskStatus) []byte {
		ts := alice.TaskState{Task: alice.Task{Action: alice.ActionSendText, Status: s, Text: "hi", Title: "t"}}
		v, err := encodeTask(&ts)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	type test struct {
		name   string
		record []byte
		want   alice.TaskStatus
		err    bool
	}
	tests := []test{
		{name: "JSON", record: []byte("\x02" + `{"action":"send_text","status":"paused"}`), want: alice.TaskPaused},
		{name: "compact, no status", record: []byte{recordTask}, want: ""},
		{name: "compact, truncated", record: compact(alice.TaskActive)[:3], err: true},
		{name: "JSON, broken", record: []byte("\x02{"), err: true},
		{name: "compact, status a number", record: append([]byte{recordTask}, protowire.AppendVarint(protowire.AppendTag(nil, fieldStatus, protowire.VarintType), 1)...), err: true},
	}
	for _, s := range alice.TaskStatuses() {
		tests = append(tests, test{name: "compact, " + string(s), record: compact(s), want: s})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := taskRecordStatus(tt.record)
			if (err != nil) != tt.err || got != tt.want {
				t.Fatalf("taskRecordStatus = %q, %v; want %q (error: %v)", got, err, tt.want, tt.err)
			}
		})
	}
}

func TestTaskRecordRejects(t *testing.T) {
	field := func(n protowire.Number, typ protowire.Type, payload ...byte) []byte {
		return append(protowire.AppendTag(nil, n, typ), payload...)
	}
	str := func(n protowire.Number, s string) []byte {
		return protowire.AppendString(field(n, protowire.BytesType), s)
	}
	binTime := func(n protowire.Number, at time.Time) []byte {
		enc, err := at.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		return protowire.AppendBytes(field(n, protowire.BytesType), enc)
	}
	record := func(fields ...[]byte) []byte { return append([]byte{recordTask}, bytes.Join(fields, nil)...) }
	for _, c := range []struct {
		name   string
		record []byte
		want   string
	}{
		{"a field no task record has", record(str(fieldAction, "send_text"), str(40, "x")), "field 40 is not a field of a task record"},
		{"a fixed-width field", record(field(fieldMaxRuns, protowire.Fixed32Type, 1, 0, 0, 0)), "field 10 has wire type 5"},
		{"a number where a string belongs", record(protowire.AppendVarint(field(fieldStatus, protowire.VarintType), 1)), "field 2 has wire type 0, want 2"},
		{"a string cut short", record(field(fieldText, protowire.BytesType, 10, 'a')), "field 4: unexpected EOF"},
		{"a tag cut short", record([]byte{0x80}), "unexpected EOF"},
		{"next_run_at the same as a missing run_at", record(str(fieldNextRunAt, "")), "field 11 is empty, and no time comes before it"},
		{"an empty run_at", record(str(fieldRunAt, "")), "field 9 is empty"},
		{"a time that is not one", record(str(fieldCreatedAt, "yesterday")), "field 16: Time.UnmarshalBinary"},
		{"a year an answer cannot hold", record(binTime(fieldRunAt, time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC))), "field 9: year 10000 is outside 0-9999"},
		{"a zone offset an answer cannot hold", record(binTime(fieldCreatedAt, time.Date(2026, 1, 1, 0, 0, 0, 0, time.FixedZone("", 25*3600)))), "field 16: zone offset 90000s is a day or more"},
		{"an origin field no origin has", record(protowire.AppendBytes(field(fieldOrigin, protowire.BytesType), str(9, "x"))), "origin: field 9 of wire type 2 is not a field of an origin"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var ts alice.TaskState
			err := decodeTaskRecord(c.record, &ts)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("decode %x = %v; want an error naming %q", c.record, err, c.want)
			}
		})
	}
}

// FuzzTaskRecord: no record, however broken, panics the decoder, and what
// it reads is written back to a record that reads the same.
func FuzzTaskRecord(f *testing.F) {
	for _, ts := range []*alice.TaskState{
		{Task: alice.Task{Action: alice.ActionSendText, Status: alice.TaskActive, Text: "x"}},
		{Task: alice.Task{Cron: "* * * * *", RunAt: new(time.Time), NextRunAt: new(time.Time)}, Due: new(time.Time), Origin: &alice.Conversation{ReceiveID: "oc"}},
	} {
		v, err := encodeTask(ts)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(v[1:])
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var first alice.TaskState
		if decodeTaskRecord(append([]byte{recordTask}, b...), &first) != nil {
			return
		}
		v, err := encodeTask(&first)
		if err != nil {
			t.Fatalf("%+v read from %x does not encode: %v", first, b, err)
		}
		var second alice.TaskState
		if err := decodeTaskRecord(v, &second); err != nil {
			t.Fatalf("%+v read from %x, written as %x, does not read back: %v", first, b, v, err)
		}
		sameTask(t, &second, &first)
	})
}
