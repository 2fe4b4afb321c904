// Package decisionlog reads the decision events the service logs: one JSON
// object per request, message "decision", in the schema docs/decision-log.md
// describes. It reads JSON-lines files (the log of `sentinel-tvm dev`, a
// CloudWatch Logs export) and CloudWatch Logs itself.
package decisionlog

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	json "github.com/goccy/go-json"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
)

// SchemaVersion is the version of the decision event schema the service
// writes (field "schema"). Versions only add fields; a reader of version N
// reads every event of version N or later.
const SchemaVersion = 1

// Message is the log message ("msg") of a decision event.
const Message = "decision"

// Event is one decision event as the service logs it (log message
// "decision"). The JSON names are the log's field names.
type Event struct {
	Schema    int       `json:"schema"`
	Time      time.Time `json:"request_time"` // when the request was evaluated (else the log record's time)
	RequestID string    `json:"request_id"`
	Route     string    `json:"route"` // "METHOD /resource"
	Status    int       `json:"status"`

	CallerARN string `json:"caller_arn"`
	Principal string `json:"principal"` // principal ARN (the role for role sessions)
	User      string `json:"user"`      // trusted user, or ""
	UserID    string `json:"user_id"`   // the caller's unique ID, e.g. AROAEXAMPLE:alice
	Account   string `json:"account"`
	OrgID     string `json:"org_id"`
	SourceIP  string `json:"source_ip"`
	Client    string `json:"client"` // client mode the caller declared

	Profile                  string `json:"profile"`
	RequestedDurationSeconds int64  `json:"requested_duration_seconds"` // 0: none asked for

	// Approved: an approved, usable approval request was present;
	// BreakGlass: an active break-glass event was present. Their expiry caps
	// the session (zero: no cap recorded).
	Approved          bool      `json:"approved"`
	ApprovalExpires   time.Time `json:"approval_expires_at,omitzero"`
	BreakGlass        bool      `json:"break_glass"`
	BreakGlassExpires time.Time `json:"break_glass_expires_at,omitzero"`

	Decision        string `json:"decision"` // allow, deny, require_approval (other routes: what the route decided)
	Rule            string `json:"rule"`
	Reason          string `json:"reason"`
	Via             string `json:"via"`
	DurationSeconds int64  `json:"duration_seconds"` // granted duration of an allow
	PolicySHA256    string `json:"policy_sha256"`    // the policy that decided; "" when none did

	SessionID string  `json:"session_id"`
	ErrorCode string  `json:"error_code"`
	LatencyMS float64 `json:"latency_ms"`
}

// Effects a replayable event's decision can have.
const (
	DecisionAllow           = "allow"
	DecisionDeny            = "deny"
	DecisionRequireApproval = "require_approval"
)

// Replayable reports whether the event records a policy evaluation that can
// be made again: schema 1 or later, a policy hash and a policy effect.
func (e Event) Replayable() bool {
	if e.Schema < 1 || e.PolicySHA256 == "" {
		return false
	}
	switch e.Decision {
	case DecisionAllow, DecisionDeny, DecisionRequireApproval:
		return true
	}
	return false
}

// record is what Parse decodes: the event plus the log record's own fields.
type record struct {
	Event
	Msg     string    `json:"msg"`
	LogTime time.Time `json:"time"`
}

var decisionMarker = []byte(`"msg":"decision"`)

// Parse decodes one log line. Lines that are not decision events (other
// log messages, metric records, text, blank lines) return false. Anything
// before the first '{' is ignored, so "TIMESTAMP {...}" lines of a log
// export parse too.
func Parse(line []byte) (Event, bool) {
	if !bytes.Contains(line, decisionMarker) {
		return Event{}, false
	}
	i := bytes.IndexByte(line, '{')
	if i < 0 {
		return Event{}, false
	}
	var r record
	if err := json.Unmarshal(bytes.TrimSpace(line[i:]), &r); err != nil || r.Msg != Message {
		return Event{}, false
	}
	if r.Event.Time.IsZero() {
		r.Event.Time = r.LogTime
	}
	return r.Event, true
}

// maxLine bounds one log line (CloudWatch Logs events are at most 256 KiB).
const maxLine = 1 << 20

// Read calls fn for every decision event of r, JSON lines; other lines are
// skipped. It stops at fn's first error and returns it.
func Read(r io.Reader, fn func(Event) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxLine)
	for sc.Scan() {
		e, ok := Parse(sc.Bytes())
		if !ok {
			continue
		}
		if err := fn(e); err != nil {
			return err
		}
	}
	return sc.Err()
}

// ReadFiles reads the files in order; "-" is standard input, and a name
// ending in .gz is gunzipped (CloudWatch Logs exports to S3 are gzipped).
func ReadFiles(paths []string, fn func(Event) error) error {
	for _, p := range paths {
		if err := readFile(p, fn); err != nil {
			return err
		}
	}
	return nil
}

// Open opens a decision log file: "-" is stdin (which closing the result
// leaves open), and a name ending in .gz is gunzipped (CloudWatch Logs
// exports to S3 are gzipped).
func Open(path string, stdin io.Reader) (io.ReadCloser, error) {
	if path == "-" {
		return io.NopCloser(stdin), nil
	}
	f, err := os.Open(path)
	if err != nil || !strings.HasSuffix(path, ".gz") {
		return f, err
	}
	zr, err := gzip.NewReader(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return gzipFile{zr, f}, nil
}

// gzipFile closes the gzip reader and the file under it.
type gzipFile struct {
	*gzip.Reader
	f *os.File
}

func (g gzipFile) Close() error {
	err := g.Reader.Close()
	if ferr := g.f.Close(); err == nil {
		err = ferr
	}
	return err
}

func readFile(path string, fn func(Event) error) error {
	r, err := Open(path, os.Stdin)
	if err != nil {
		return err
	}
	defer r.Close()
	err = Read(r, func(e Event) error {
		if err := fn(e); err != nil {
			return fnError{err}
		}
		return nil
	})
	if err != nil {
		var fe fnError
		if errors.As(err, &fe) {
			return fe.err
		}
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// fnError marks an error of the caller's callback, returned unchanged.
type fnError struct{ err error }

func (e fnError) Error() string { return e.err.Error() }
func (e fnError) Unwrap() error { return e.err }

// FilterLogEventsAPI is the part of the CloudWatch Logs client
// ReadCloudWatch uses.
type FilterLogEventsAPI interface {
	FilterLogEvents(ctx context.Context, in *cloudwatchlogs.FilterLogEventsInput, optFns ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.FilterLogEventsOutput, error)
}

// pageLimit sets the page size (tests); 0 leaves the service's default.
var pageLimit int32

// FilterPattern selects decision events on the CloudWatch Logs side.
const FilterPattern = `{ $.msg = "decision" }`

// ReadCloudWatch calls fn for every decision event of the log group from
// from to to (all its streams, every page). progress, if not nil, is called
// after each page with the number of log events read so far.
func ReadCloudWatch(ctx context.Context, api FilterLogEventsAPI, group string, from, to time.Time, fn func(Event) error, progress func(read int)) error {
	in := &cloudwatchlogs.FilterLogEventsInput{
		LogGroupName:  aws.String(group),
		StartTime:     aws.Int64(from.UnixMilli()),
		EndTime:       aws.Int64(to.UnixMilli()),
		FilterPattern: aws.String(FilterPattern),
	}
	if pageLimit > 0 {
		in.Limit = aws.Int32(pageLimit)
	}
	read := 0
	p := cloudwatchlogs.NewFilterLogEventsPaginator(api, in)
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("reading log group %s: %w", group, err)
		}
		for _, le := range out.Events {
			read++
			e, ok := Parse([]byte(aws.ToString(le.Message)))
			if !ok {
				continue
			}
			if err := fn(e); err != nil {
				return err
			}
		}
		if progress != nil {
			progress(read)
		}
	}
	return nil
}
