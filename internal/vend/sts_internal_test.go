package vend

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/aws-sdk-go-v2/service/sts/types"

	"github.com/sentinel-tvm/sentinel-tvm/internal/policy"
)

func goodInput() *sts.AssumeRoleInput {
	return &sts.AssumeRoleInput{
		RoleArn: aws.String("arn:aws:iam::111122223333:role/x"), RoleSessionName: aws.String("alice"),
		SourceIdentity: aws.String("stvm.alice.000000010000"), DurationSeconds: aws.Int32(900),
		Tags: []types.Tag{{Key: aws.String("a"), Value: aws.String("b")}},
	}
}

// TestCheckAssumeRole checks each STS limit the service enforces before
// calling STS, with the exact problem text that goes to the log.
func TestCheckAssumeRole(t *testing.T) {
	manyTags := make([]types.Tag, 51)
	for i := range manyTags {
		manyTags[i] = types.Tag{Key: aws.String(fmt.Sprintf("k%d", i)), Value: aws.String("v")}
	}
	tests := []struct {
		name   string
		change func(in *sts.AssumeRoleInput)
		want   string
	}{
		{"ok", func(*sts.AssumeRoleInput) {}, ""},
		{"session name short", func(in *sts.AssumeRoleInput) { in.RoleSessionName = aws.String("a") }, `RoleSessionName must be 2-64 characters of [\w+=,.@-]`},
		{"session name long", func(in *sts.AssumeRoleInput) { in.RoleSessionName = aws.String(strings.Repeat("a", 65)) }, `RoleSessionName must be 2-64 characters of [\w+=,.@-]`},
		{"source identity chars", func(in *sts.AssumeRoleInput) { in.SourceIdentity = aws.String("stvm alice") }, `SourceIdentity must be 2-64 characters of [\w+=,.@-]`},
		{"source identity aws:", func(in *sts.AssumeRoleInput) { in.SourceIdentity = aws.String("AWS:x") }, `SourceIdentity must be 2-64 characters of [\w+=,.@-]`},
		{"duration short", func(in *sts.AssumeRoleInput) { in.DurationSeconds = aws.Int32(899) }, "DurationSeconds 899 is outside 900-3600"},
		{"duration long", func(in *sts.AssumeRoleInput) { in.DurationSeconds = aws.Int32(3601) }, "DurationSeconds 3601 is outside 900-3600"},
		{"policy long", func(in *sts.AssumeRoleInput) { in.Policy = aws.String(strings.Repeat("é", 2049)) }, "the session policy is 2049 characters, STS allows 2048"},
		{"too many tags", func(in *sts.AssumeRoleInput) { in.Tags = manyTags }, "51 session tags, STS allows 50"},
		{"tag key chars", func(in *sts.AssumeRoleInput) { in.Tags[0].Key = aws.String("a,b") }, `tag key "a,b" breaks the STS rules`},
		{"tag value chars", func(in *sts.AssumeRoleInput) { in.Tags[0].Value = aws.String("x*") }, `the value of tag "a" breaks the STS rules`},
		{"tag repeated", func(in *sts.AssumeRoleInput) {
			in.Tags = append(in.Tags, types.Tag{Key: aws.String("A"), Value: aws.String("c")})
		}, `tag key "A" is repeated (STS ignores case)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := goodInput()
			tt.change(in)
			err := checkAssumeRole(in)
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tt.want {
				t.Errorf("got %q\nwant %q", got, tt.want)
			}
		})
	}
}

var stsNameChars = regexp.MustCompile(`^[\w+=,.@-]{2,64}$`)

// TestAssumeRoleInputNames checks SourceIdentity and RoleSessionName for
// awkward callers: long names, characters STS refuses, one-letter names.
func TestAssumeRoleInputNames(t *testing.T) {
	sid := strings.Repeat("ab", 16)
	tests := []struct {
		caller, wantSource, wantSession string
	}{
		// Untrusted callers: principal name and session ID, never the
		// caller's own session name.
		{"arn:aws:sts::111122223333:assumed-role/engineer-dev/alice", "stvm.engineer-dev.abababababab", "engineer-dev.abababababab"},
		{"arn:aws:sts::111122223333:assumed-role/" + strings.Repeat("r", 64) + "/" + strings.Repeat("s", 64),
			"stvm." + strings.Repeat("r", 46) + ".abababababab", strings.Repeat("r", 51) + ".abababababab"},
		{"arn:aws:iam::111122223333:user/path/bob", "stvm.bob.abababababab", "bob.abababababab"},
		{"arn:aws:iam::111122223333:user/b", "stvm.b.abababababab", "b.abababababab"},
		{"arn:aws:sts::111122223333:federated-user/carol:x y", "stvm.carol-x-y.abababababab", "carol-x-y.abababababab"},
		{"arn:aws:iam::111122223333:root", "stvm.root.abababababab", "root.abababababab"},
	}
	for _, tt := range tests {
		pr, err := policy.ParseCaller(tt.caller)
		if err != nil {
			t.Fatal(err)
		}
		d := policy.Decision{Effect: policy.Allow, Via: policy.ViaPolicy, Profile: "p", RoleARN: "arn:aws:iam::111122223333:role/x", Duration: 15 * time.Minute}
		in, err := assumeRoleInput(d, &policy.Request{Principal: pr}, policy.Scope{}, sid)
		if err != nil {
			t.Errorf("%s: %v", tt.caller, err)
			continue
		}
		si, sn := aws.ToString(in.SourceIdentity), aws.ToString(in.RoleSessionName)
		if si != tt.wantSource || sn != tt.wantSession || !stsNameChars.MatchString(si) || !stsNameChars.MatchString(sn) {
			t.Errorf("%s: SourceIdentity %q RoleSessionName %q\nwant %q %q", tt.caller, si, sn, tt.wantSource, tt.wantSession)
		}
	}
}
