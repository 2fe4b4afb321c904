package decisionlog

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"

	"github.com/sentinel-tvm/sentinel-tvm/internal/motoserver"
)

const sample = `{"time":"2026-03-02T10:00:00.5Z","level":"INFO","msg":"decision","schema":1,"request_time":"2026-03-02T10:00:00.123456789Z",` +
	`"request_id":"r1","route":"POST /v1/credentials","status":200,"caller_arn":"arn:aws:sts::111122223333:assumed-role/dev/alice",` +
	`"principal":"arn:aws:iam::111122223333:role/dev","user":"alice","user_id":"AROAEXAMPLE:alice","account":"111122223333",` +
	`"org_id":"o-a1b2c3d4e5","source_ip":"10.1.2.3","client":"agent","profile":"dev","requested_duration_seconds":1800,` +
	`"approved":true,"approval_expires_at":"2026-03-02T10:30:00Z","break_glass":false,"decision":"allow","rule":"ops","reason":"ok",` +
	`"via":"approval","duration_seconds":1800,"policy_sha256":"abc","session_id":"s1","latency_ms":1.5}`

func TestParseReadsEveryField(t *testing.T) {
	e, ok := Parse([]byte(sample))
	if !ok {
		t.Fatal("Parse refused a decision event")
	}
	want := Event{
		Schema: 1, Time: time.Date(2026, 3, 2, 10, 0, 0, 123456789, time.UTC), RequestID: "r1", Route: "POST /v1/credentials", Status: 200,
		CallerARN: "arn:aws:sts::111122223333:assumed-role/dev/alice", Principal: "arn:aws:iam::111122223333:role/dev", User: "alice",
		UserID: "AROAEXAMPLE:alice", Account: "111122223333", OrgID: "o-a1b2c3d4e5", SourceIP: "10.1.2.3", Client: "agent",
		Profile: "dev", RequestedDurationSeconds: 1800, Approved: true, ApprovalExpires: time.Date(2026, 3, 2, 10, 30, 0, 0, time.UTC),
		Decision: "allow", Rule: "ops", Reason: "ok", Via: "approval", DurationSeconds: 1800, PolicySHA256: "abc", SessionID: "s1", LatencyMS: 1.5,
	}
	if e != want {
		t.Fatalf("Parse =\n%+v\nwant\n%+v", e, want)
	}
	if !e.Replayable() {
		t.Fatal("a schema-1 allow with a policy hash is not replayable")
	}
}

func TestParseSkipsOtherLines(t *testing.T) {
	for _, line := range []string{
		"",
		"not json at all",
		`{"time":"2026-03-02T10:00:00Z","level":"WARN","msg":"mark session failed"}`,
		`{"Outcome":"Vends","Vends":1,"_aws":{}}`,
		`{"msg":"decisions","note":"\"msg\":\"decision\""}`,
		`{"msg":"decision"`, // truncated
	} {
		if e, ok := Parse([]byte(line)); ok {
			t.Errorf("Parse(%q) = %+v, true; want false", line, e)
		}
	}
}

func TestParseTakesPrefixedLinesAndFallsBackToTheLogTime(t *testing.T) {
	e, ok := Parse([]byte(`2026-03-02T10:00:01Z {"time":"2026-03-02T10:00:01Z","msg":"decision","request_id":"r2"}`))
	if !ok || e.RequestID != "r2" || !e.Time.Equal(time.Date(2026, 3, 2, 10, 0, 1, 0, time.UTC)) {
		t.Fatalf("Parse = %+v, %v", e, ok)
	}
	if e.Replayable() {
		t.Fatal("an event without schema and policy hash is replayable")
	}
}

func TestReplayable(t *testing.T) {
	base := Event{Schema: 1, PolicySHA256: "abc", Decision: "deny"}
	for _, tc := range []struct {
		mod  func(*Event)
		want bool
	}{
		{func(*Event) {}, true},
		{func(e *Event) { e.Decision = "require_approval" }, true},
		{func(e *Event) { e.Decision = "approve" }, false}, // an approver's decision
		{func(e *Event) { e.Decision = "" }, false},
		{func(e *Event) { e.PolicySHA256 = "" }, false},
		{func(e *Event) { e.Schema = 0 }, false},
		{func(e *Event) { e.Schema = 2 }, true},
	} {
		e := base
		tc.mod(&e)
		if got := e.Replayable(); got != tc.want {
			t.Errorf("%+v: Replayable = %v, want %v", e, got, tc.want)
		}
	}
}

func TestReadFilesSkipsAndStops(t *testing.T) {
	dir := t.TempDir()
	a := filepath.Join(dir, "a.jsonl")
	b := filepath.Join(dir, "b.jsonl")
	line := func(id string) string { return strings.Replace(sample, `"r1"`, `"`+id+`"`, 1) }
	os.WriteFile(a, []byte(line("a1")+"\nnoise\n"+`{"msg":"other"}`+"\n"+line("a2")+"\n"), 0o600)
	os.WriteFile(b, []byte(line("b1")), 0o600) // no final newline
	var ids []string
	err := ReadFiles([]string{a, b}, func(e Event) error { ids = append(ids, e.RequestID); return nil })
	if err != nil || strings.Join(ids, ",") != "a1,a2,b1" {
		t.Fatalf("ReadFiles = %v, %v", ids, err)
	}
	stop := errors.New("stop")
	n := 0
	err = ReadFiles([]string{a, b}, func(Event) error { n++; return stop })
	if !errors.Is(err, stop) || n != 1 || err.Error() != "stop" {
		t.Fatalf("ReadFiles with a failing callback = %v after %d events", err, n)
	}
	err = ReadFiles([]string{filepath.Join(dir, "missing")}, func(Event) error { return nil })
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("ReadFiles of a missing file = %v", err)
	}
}

func TestReadFilesGunzipsGzFiles(t *testing.T) {
	dir := t.TempDir()
	zipped := filepath.Join(dir, "export.jsonl.gz")
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write([]byte("noise\n" + sample + "\n"))
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(zipped, buf.Bytes(), 0o600)
	var ids []string
	if err := ReadFiles([]string{zipped}, func(e Event) error { ids = append(ids, e.RequestID); return nil }); err != nil || strings.Join(ids, ",") != "r1" {
		t.Fatalf("ReadFiles(.gz) = %v, %v", ids, err)
	}
	plain := filepath.Join(dir, "plain.jsonl.gz")
	os.WriteFile(plain, []byte(sample), 0o600)
	if err := ReadFiles([]string{plain}, func(Event) error { return nil }); err == nil {
		t.Fatal("a .gz file that is not gzip is no error")
	}
}

// TestReadCloudWatchOnMoto writes decision events and noise into two
// streams of a log group in moto and reads them back over several pages.
func TestReadCloudWatchOnMoto(t *testing.T) {
	srv := motoserver.Start(t)
	ctx := context.Background()
	cw := cloudwatchlogs.NewFromConfig(srv.Config)
	group := "/aws/lambda/sentinel-tvm"
	if _, err := cw.CreateLogGroup(ctx, &cloudwatchlogs.CreateLogGroupInput{LogGroupName: aws.String(group)}); err != nil {
		t.Fatal(err)
	}
	now := time.Now().Truncate(time.Millisecond)
	want := map[string]bool{}
	for s, stream := range []string{"2026/03/02/[$LATEST]a", "2026/03/02/[$LATEST]b"} {
		if _, err := cw.CreateLogStream(ctx, &cloudwatchlogs.CreateLogStreamInput{LogGroupName: aws.String(group), LogStreamName: aws.String(stream)}); err != nil {
			t.Fatal(err)
		}
		var events []types.InputLogEvent
		for i := range 7 {
			id := fmt.Sprintf("s%d-%d", s, i)
			msg := strings.Replace(sample, `"r1"`, `"`+id+`"`, 1)
			if i%3 == 2 {
				msg = `{"msg":"mark session failed","session_id":"x"}`
			} else {
				want[id] = true
			}
			events = append(events, types.InputLogEvent{Message: aws.String(msg), Timestamp: aws.Int64(now.Add(time.Duration(i-10) * time.Second).UnixMilli())})
		}
		// An event outside the window.
		events = append([]types.InputLogEvent{{Message: aws.String(strings.Replace(sample, `"r1"`, `"old"`, 1)),
			Timestamp: aws.Int64(now.Add(-2 * time.Hour).UnixMilli())}}, events...)
		if _, err := cw.PutLogEvents(ctx, &cloudwatchlogs.PutLogEventsInput{LogGroupName: aws.String(group), LogStreamName: aws.String(stream), LogEvents: events}); err != nil {
			t.Fatal(err)
		}
	}
	pageLimit = 3
	defer func() { pageLimit = 0 }()
	got := map[string]bool{}
	var progress []int
	err := ReadCloudWatch(ctx, cw, group, now.Add(-time.Hour), now.Add(time.Minute), func(e Event) error {
		if got[e.RequestID] {
			t.Errorf("event %s read twice", e.RequestID)
		}
		got[e.RequestID] = true
		return nil
	}, func(n int) { progress = append(progress, n) })
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("read %v, want %v", got, want)
	}
	if len(progress) < 4 || progress[len(progress)-1] != 14 {
		t.Fatalf("progress = %v, want several pages ending at 14 log events", progress)
	}
	err = ReadCloudWatch(ctx, cw, "/no/such/group", now.Add(-time.Hour), now, func(Event) error { return nil }, nil)
	if err == nil || !strings.Contains(err.Error(), "/no/such/group") {
		t.Fatalf("missing group: err = %v", err)
	}
}
