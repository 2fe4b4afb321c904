package vend

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/aws-sdk-go-v2/service/sts/types"
	"github.com/aws/smithy-go"

	"github.com/sentinel-tvm/sentinel-tvm/internal/policy"
)

// Service session tags, stamped on every vended session.
const (
	TagSessionID = policy.ServiceTagPrefix + "session-id"
	TagPrincipal = policy.ServiceTagPrefix + "principal"
	TagProfile   = policy.ServiceTagPrefix + "profile"
	TagVia       = policy.ServiceTagPrefix + "via"
)

// SourceIdentity prefixes: every vended session's SourceIdentity starts with
// SourceIdentityPrefix; approval and break-glass sessions are marked apart
// so SCPs and CloudTrail queries can single them out.
const (
	SourceIdentityPrefix     = "stvm"
	sourceIdentityPolicy     = "stvm."
	sourceIdentityApproval   = "stvm-ap."
	sourceIdentityBreakGlass = "stvm-bg."
)

var (
	// STS's character set for RoleSessionName and SourceIdentity.
	stsNameRE      = regexp.MustCompile(`^[\w+=,.@-]{2,64}$`)
	stsNameInvalid = regexp.MustCompile(`[^\w+=,.@-]`)
	tagInvalid     = regexp.MustCompile(`[^\p{L}\p{Z}\p{N}_.:/=+\-@]`)
)

// assumeRoleInput builds the STS call and checks every STS limit first, so a
// violation is our error, never an STS one.
func assumeRoleInput(d policy.Decision, preq *policy.Request, scope policy.Scope, sessionID string) (*sts.AssumeRoleInput, error) {
	pr := preq.Principal
	prefix := sourceIdentityPolicy
	switch d.Via {
	case policy.ViaApproval:
		prefix = sourceIdentityApproval
	case policy.ViaBreakGlass:
		prefix = sourceIdentityBreakGlass
	}
	short := sessionID[:12]
	// The trusted user when there is one (an SSO user name), else the
	// principal's name: never an untrusted session name.
	who := pr.User
	if who == "" {
		who = pr.Name
	}
	sourceIdentity := prefix + stsName(who, 64-len(prefix)-1-len(short)) + "." + short
	// RoleSessionName shows in CloudTrail and in aws:userid on the vended
	// role, so it names the person as far as the TVM knows them: a trusted
	// user as itself, anyone else as principal name and session ID (never
	// the caller's own session name, which the caller chose).
	sessionName := stsName(pr.User, 64)
	if pr.User == "" || len(sessionName) < 2 {
		sessionName = stsName(pr.Name, 64-1-len(short)) + "." + short
	}
	tags := []types.Tag{
		{Key: aws.String(TagSessionID), Value: aws.String(sessionID)},
		{Key: aws.String(TagPrincipal), Value: aws.String(tagValue(pr.ARN))},
		{Key: aws.String(TagProfile), Value: aws.String(d.Profile)},
		{Key: aws.String(TagVia), Value: aws.String(d.Via)},
	}
	for _, t := range scope.Tags {
		tags = append(tags, types.Tag{Key: aws.String(t.Key), Value: aws.String(t.Value)})
	}
	in := &sts.AssumeRoleInput{
		RoleArn:         aws.String(d.RoleARN),
		RoleSessionName: aws.String(sessionName),
		SourceIdentity:  aws.String(sourceIdentity),
		DurationSeconds: aws.Int32(int32(d.Duration / time.Second)),
		Tags:            tags,
		// Transitive: a session chained from this one keeps the tag, so a
		// revocation's deny on it still matches.
		TransitiveTagKeys: []string{TagSessionID},
	}
	if scope.SessionPolicy != "" {
		in.Policy = aws.String(scope.SessionPolicy)
	}
	return in, checkAssumeRole(in)
}

// checkAssumeRole checks the STS limits of an AssumeRole call.
func checkAssumeRole(in *sts.AssumeRoleInput) error {
	var problems []string
	if !stsNameRE.MatchString(aws.ToString(in.RoleSessionName)) {
		problems = append(problems, "RoleSessionName must be 2-64 characters of [\\w+=,.@-]")
	}
	if !stsNameRE.MatchString(aws.ToString(in.SourceIdentity)) || strings.HasPrefix(strings.ToLower(aws.ToString(in.SourceIdentity)), "aws:") {
		problems = append(problems, "SourceIdentity must be 2-64 characters of [\\w+=,.@-]")
	}
	if d := aws.ToInt32(in.DurationSeconds); d < 900 || d > 3600 {
		problems = append(problems, fmt.Sprintf("DurationSeconds %d is outside 900-3600", d))
	}
	if n := utf8.RuneCountInString(aws.ToString(in.Policy)); n > policy.MaxSessionPolicyLength {
		problems = append(problems, fmt.Sprintf("the session policy is %d characters, STS allows %d", n, policy.MaxSessionPolicyLength))
	}
	if len(in.Tags) > policy.MaxSessionTags {
		problems = append(problems, fmt.Sprintf("%d session tags, STS allows %d", len(in.Tags), policy.MaxSessionTags))
	}
	seen := map[string]bool{}
	for _, t := range in.Tags {
		k, v := aws.ToString(t.Key), aws.ToString(t.Value)
		if n := utf8.RuneCountInString(k); n < 1 || n > policy.MaxTagKeyLength || tagInvalid.MatchString(k) {
			problems = append(problems, fmt.Sprintf("tag key %q breaks the STS rules", k))
		}
		if utf8.RuneCountInString(v) > policy.MaxTagValueLength || tagInvalid.MatchString(v) {
			problems = append(problems, fmt.Sprintf("the value of tag %q breaks the STS rules", k))
		}
		if seen[strings.ToLower(k)] {
			problems = append(problems, fmt.Sprintf("tag key %q is repeated (STS ignores case)", k))
		}
		seen[strings.ToLower(k)] = true
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}

// stsName maps s onto STS's name characters and at most n bytes.
func stsName(s string, n int) string {
	s = stsNameInvalid.ReplaceAllString(s, "-")
	if len(s) > n {
		s = s[:n]
	}
	return s
}

// tagValue maps s onto the tag-value characters and length.
func tagValue(s string) string {
	s = tagInvalid.ReplaceAllString(s, "_")
	if utf8.RuneCountInString(s) > policy.MaxTagValueLength {
		s = string([]rune(s)[:policy.MaxTagValueLength])
	}
	return s
}

// awsErrorCode reduces an AWS SDK error to its code for logs and records
// (never the message, which can name resources).
func awsErrorCode(err error) string {
	var apiErr smithy.APIError
	switch {
	case errors.As(err, &apiErr):
		return apiErr.ErrorCode()
	case errors.Is(err, context.DeadlineExceeded):
		return "Timeout"
	case errors.Is(err, context.Canceled):
		return "Canceled"
	}
	return "Error"
}

// stsConfigError reports STS error codes that retrying will not fix: the
// deployment (trust policy, role, permissions) is wrong.
func stsConfigError(code string) bool {
	switch code {
	case "AccessDenied", "MalformedPolicyDocument", "PackedPolicyTooLarge", "ValidationError",
		"InvalidParameterValue", "RegionDisabledException", "InvalidIdentityToken":
		return true
	}
	return false
}
