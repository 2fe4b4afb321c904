package decisionlog

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
	"github.com/google/go-cmp/cmp"
)

// A decision line as the handler writes it (slog JSON), an audit line, an
// EMF record and noise.
const logText = `{"time":"2026-11-02T10:00:00.123Z","level":"WARN","msg":"decision","request_id":"r1","route":"POST /v1/credentials","status":403,"principal":"arn:aws:iam::111122223333:role/engineer-dev","user":"","caller_arn":"arn:aws:sts::111122223333:assumed-role/engineer-dev/alice","source_ip":"192.0.2.1","profile":"prod-readonly","decision":"deny","rule":"default-deny","reason":"","via":"","session_id":"","duration_seconds":0,"latency_ms":1.5,"error_code":"policy_denied","error":"no rule allows this"}
{"time":"2026-11-02T10:00:01Z","level":"INFO","msg":"audit","audit":true,"event":"session_revoked"}
{"Outcome":"Denials","Denials":1,"_aws":{"Timestamp":1}}
not json at all
2026-11-02T10:00:02.000Z	4f1c	INFO	{"time":"2026-11-02T10:00:02Z","msg":"decision","request_id":"r2","route":"POST /v1/credentials","status":200,"profile":"dev","decision":"allow","via":"policy","session_id":"s2","duration_seconds":900,"schema":1,"approved":true,"account":"111122223333"}
{"time":"2026-11-02T10:00:03Z","msg":"decision","request_id":"r3","schema":2}
{"msg":"decision","request_id":"r4"}
`

func TestRead(t *testing.T) {
	var got []Event
	if err := Read(strings.NewReader(logText), func(e Event) error { got = append(got, e); return nil }); err != nil {
		t.Fatal(err)
	}
	want := []Event{
		{Schema: 1, Time: time.Date(2026, 11, 2, 10, 0, 0, 123e6, time.UTC), RequestID: "r1", Route: "POST /v1/credentials", Status: 403,
			Principal: "arn:aws:iam::111122223333:role/engineer-dev", CallerARN: "arn:aws:sts::111122223333:assumed-role/engineer-dev/alice",
			SourceIP: "192.0.2.1", Profile: "prod-readonly", Decision: "deny", Rule: "default-deny", ErrorCode: "policy_denied"},
		{Schema: 1, Time: time.Date(2026, 11, 2, 10, 0, 2, 0, time.UTC), RequestID: "r2", Route: "POST /v1/credentials", Status: 200,
			Profile: "dev", Decision: "allow", Via: "policy", SessionID: "s2", DurationSeconds: 900, Approved: true, Account: "111122223333"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
}

func TestReadStopsAtTheCallbacksError(t *testing.T) {
	stop := errors.New("stop")
	n := 0
	err := Read(strings.NewReader(logText), func(Event) error { n++; return stop })
	if !errors.Is(err, stop) || n != 1 {
		t.Errorf("err %v after %d events", err, n)
	}
}

func TestReadFiles(t *testing.T) {
	dir := t.TempDir()
	plain, zipped := filepath.Join(dir, "a.log"), filepath.Join(dir, "b.log.gz")
	if err := os.WriteFile(plain, []byte(logText), 0o600); err != nil {
		t.Fatal(err)
	}
	var gz bytes.Buffer
	w := gzip.NewWriter(&gz)
	w.Write([]byte(logText))
	w.Close()
	if err := os.WriteFile(zipped, gz.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	var ids []string
	if err := ReadFiles([]string{plain, zipped}, func(e Event) error { ids = append(ids, e.RequestID); return nil }); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"r1", "r2", "r1", "r2"}, ids); diff != "" {
		t.Errorf("ids: %s", diff)
	}
	if err := ReadFiles([]string{filepath.Join(dir, "missing")}, func(Event) error { return nil }); err == nil {
		t.Error("a missing file is no error")
	}
	if err := ReadFiles([]string{plain + ".gz"}, func(Event) error { return nil }); err == nil {
		t.Error("a missing .gz file is no error")
	}
}

// pagedLogs answers FilterLogEvents from pages of messages.
type pagedLogs struct {
	pages [][]string
	calls []*cloudwatchlogs.FilterLogEventsInput
}

func (p *pagedLogs) FilterLogEvents(_ context.Context, in *cloudwatchlogs.FilterLogEventsInput, _ ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.FilterLogEventsOutput, error) {
	c := *in
	p.calls = append(p.calls, &c)
	i := 0
	if in.NextToken != nil {
		i = int((*in.NextToken)[0] - '0')
	}
	out := &cloudwatchlogs.FilterLogEventsOutput{}
	for _, m := range p.pages[i] {
		out.Events = append(out.Events, types.FilteredLogEvent{Message: aws.String(m)})
	}
	if i+1 < len(p.pages) {
		out.NextToken = aws.String(string(rune('0' + i + 1)))
	}
	return out, nil
}

func TestReadCloudWatch(t *testing.T) {
	lines := strings.Split(strings.TrimSpace(logText), "\n")
	api := &pagedLogs{pages: [][]string{lines[:3], {}, lines[3:]}}
	from, to := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	var ids []string
	var progress []int
	err := ReadCloudWatch(context.Background(), api, "/aws/lambda/tvm", from, to,
		func(e Event) error { ids = append(ids, e.RequestID); return nil }, func(n int) { progress = append(progress, n) })
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"r1", "r2"}, ids); diff != "" {
		t.Errorf("ids: %s", diff)
	}
	if diff := cmp.Diff([]int{3, 3, len(lines)}, progress); diff != "" {
		t.Errorf("progress: %s", diff)
	}
	in := api.calls[0]
	if aws.ToString(in.LogGroupName) != "/aws/lambda/tvm" || aws.ToInt64(in.StartTime) != from.UnixMilli() || aws.ToInt64(in.EndTime) != to.UnixMilli()-1 ||
		aws.ToString(in.FilterPattern) != `{ $.msg = "decision" }` {
		t.Errorf("first call: %+v", in)
	}
	if len(api.calls) != 3 {
		t.Errorf("%d calls, want 3 (one per page)", len(api.calls))
	}
}
