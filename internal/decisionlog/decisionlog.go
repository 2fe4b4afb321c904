// Package decisionlog reads the service's decision log: the one JSON line
// (log message "decision") the handler writes for every request, from files
// or from the function's CloudWatch Logs group.
package decisionlog

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
)

// SchemaVersion is the decision-log schema this package reads. A line with
// no "schema" field is version 1.
const SchemaVersion = 1

// Event is one decision line. Fields a line does not carry stay zero.
type Event struct {
	Schema                   int
	Time                     time.Time
	RequestID, Route         string
	Status                   int
	CallerARN, Principal     string
	User, Account, OrgID     string
	SourceIP                 string
	Profile                  string
	RequestedDurationSeconds int64
	Approved, BreakGlass     bool
	Decision, Rule, Reason   string
	Via                      string
	DurationSeconds          int64
	PolicySHA256, Client     string
	SessionID, ErrorCode     string
}

// line is the JSON of a decision line as the handler writes it (slog's
// JSON handler: "time", "msg", then the attributes).
type line struct {
	Msg                      string    `json:"msg"`
	Schema                   int       `json:"schema"`
	Time                     time.Time `json:"time"`
	RequestID                string    `json:"request_id"`
	Route                    string    `json:"route"`
	Status                   int       `json:"status"`
	CallerARN                string    `json:"caller_arn"`
	Principal                string    `json:"principal"`
	User                     string    `json:"user"`
	Account                  string    `json:"account"`
	OrgID                    string    `json:"org_id"`
	SourceIP                 string    `json:"source_ip"`
	Profile                  string    `json:"profile"`
	RequestedDurationSeconds int64     `json:"requested_duration_seconds"`
	Approved                 bool      `json:"approved"`
	BreakGlass               bool      `json:"break_glass"`
	Decision                 string    `json:"decision"`
	Rule                     string    `json:"rule"`
	Reason                   string    `json:"reason"`
	Via                      string    `json:"via"`
	DurationSeconds          int64     `json:"duration_seconds"`
	PolicySHA256             string    `json:"policy_sha256"`
	Client                   string    `json:"client"`
	SessionID                string    `json:"session_id"`
	ErrorCode                string    `json:"error_code"`
}

// Parse reads one log line. It reports false for anything that is not a
// decision line of a schema this package knows: other log lines, EMF
// records, malformed JSON. A line with a prefix before its JSON (the Lambda
// text log format: timestamp, request ID, level) is read from its first "{".
func Parse(b []byte) (Event, bool) {
	i := bytes.IndexByte(b, '{')
	if i < 0 {
		return Event{}, false
	}
	var l line
	if err := json.Unmarshal(bytes.TrimSpace(b[i:]), &l); err != nil || l.Msg != "decision" {
		return Event{}, false
	}
	if l.Schema == 0 {
		l.Schema = 1
	}
	if l.Schema > SchemaVersion || l.Time.IsZero() {
		return Event{}, false
	}
	return Event{
		Schema: l.Schema, Time: l.Time.UTC(), RequestID: l.RequestID, Route: l.Route, Status: l.Status,
		CallerARN: l.CallerARN, Principal: l.Principal, User: l.User, Account: l.Account, OrgID: l.OrgID, SourceIP: l.SourceIP,
		Profile: l.Profile, RequestedDurationSeconds: l.RequestedDurationSeconds, Approved: l.Approved, BreakGlass: l.BreakGlass,
		Decision: l.Decision, Rule: l.Rule, Reason: l.Reason, Via: l.Via, DurationSeconds: l.DurationSeconds,
		PolicySHA256: l.PolicySHA256, Client: l.Client, SessionID: l.SessionID, ErrorCode: l.ErrorCode,
	}, true
}

// maxLine bounds one log line (CloudWatch Logs events are at most 256 KiB).
const maxLine = 1 << 20

// Read calls fn for every decision line of r, in order, skipping other
// lines. It stops at fn's first error and returns it.
func Read(r io.Reader, fn func(Event) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxLine)
	for sc.Scan() {
		if e, ok := Parse(sc.Bytes()); ok {
			if err := fn(e); err != nil {
				return err
			}
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("reading the decision log: %w", err)
	}
	return nil
}

// ReadFiles reads the files in order; a name ending in .gz is gunzipped,
// "-" is standard input.
func ReadFiles(paths []string, fn func(Event) error) error {
	for _, p := range paths {
		if err := readFile(p, fn); err != nil {
			return err
		}
	}
	return nil
}

func readFile(path string, fn func(Event) error) error {
	var r io.Reader = os.Stdin
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		r = f
	}
	if strings.HasSuffix(path, ".gz") {
		gz, err := gzip.NewReader(r)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		defer gz.Close()
		r = gz
	}
	if err := Read(r, fn); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// FilterLogEventsAPI is the CloudWatch Logs call ReadCloudWatch makes.
type FilterLogEventsAPI interface {
	FilterLogEvents(ctx context.Context, in *cloudwatchlogs.FilterLogEventsInput, optFns ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.FilterLogEventsOutput, error)
}

// ReadCloudWatch reads the decision lines of a log group written from from
// (inclusive) to to (exclusive), page by page; progress, when not nil, gets
// the number of log events read so far after every page.
func ReadCloudWatch(ctx context.Context, api FilterLogEventsAPI, group string, from, to time.Time, fn func(Event) error, progress func(read int)) error {
	in := &cloudwatchlogs.FilterLogEventsInput{
		LogGroupName:  aws.String(group),
		StartTime:     aws.Int64(from.UnixMilli()),
		EndTime:       aws.Int64(to.UnixMilli() - 1),
		FilterPattern: aws.String(`{ $.msg = "decision" }`),
	}
	read := 0
	for {
		out, err := api.FilterLogEvents(ctx, in)
		if err != nil {
			return fmt.Errorf("reading log group %s: %w", group, err)
		}
		for _, ev := range out.Events {
			read++
			if e, ok := Parse([]byte(aws.ToString(ev.Message))); ok {
				if err := fn(e); err != nil {
					return err
				}
			}
		}
		if progress != nil {
			progress(read)
		}
		if out.NextToken == nil || *out.NextToken == "" || (in.NextToken != nil && *in.NextToken == *out.NextToken) {
			return nil
		}
		in.NextToken = out.NextToken
	}
}
