package policy

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"path/filepath"
	"sort"

	"reflect"

	"strconv"
	"strings"
	"testing"
)

// src drops the newline that follows the opening backquote, so that line 1
// of a test source is the line below it.
func src(s string) string { return strings.TrimPrefix(s, "\n") }

// profilesHCL is a valid profiles file the cases below build on.
var profilesHCL = src(`
profile "app" {
  role_arn = "arn:aws:iam::111122223333:role/app"
}

profile "db-admin" {
  role_arn = "arn:aws:iam::111122223333:role/db-admin"
}
`)

// withProfiles adds profiles.hcl to files.
func withProfiles(files map[string]string) map[string]string {
	out := map[string]string{"profiles.hcl": profilesHCL}
	for k, v := range files {
		out[k] = v
	}
	return out
}

// compileFiles compiles files (in map order, which Compile must not depend
// on) and returns the result and every diagnostic as FormatDiagnostic
// renders it.
func compileFiles(t *testing.T, files map[string]string) (*Compiled, []string) {
	t.Helper()
	var srcs []Source
	for name, data := range files {
		srcs = append(srcs, Source{Name: name, Data: []byte(data)})
	}
	c, diags := Compile(srcs)
	var got []string
	for _, d := range diags {
		got = append(got, FormatDiagnostic(d))
	}
	if diags.HasErrors() && c != nil {
		t.Errorf("Compile returned a result with errors")
	}
	if !diags.HasErrors() && c == nil {
		t.Errorf("Compile returned no result and no errors")
	}
	return c, got
}

func quoteLines(lines []string) string {
	var b strings.Builder
	for _, l := range lines {
		b.WriteString("\t" + strconv.Quote(l) + ",\n")
	}
	return b.String()
}

func checkDiags(t *testing.T, got, want []string) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("diagnostics:\n%s\nwant:\n%s", quoteLines(got), quoteLines(want))
	}
}

type compileCase struct {
	name  string
	files map[string]string
	want  []string
}

func runCompileCases(t *testing.T, cases []compileCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, got := compileFiles(t, tc.files)
			checkDiags(t, got, tc.want)
		})
	}
}

func TestCompileStructure(t *testing.T) {
	runCompileCases(t, []compileCase{
		{
			name: "unknown block with suggestion",
			want: []string{
				"main.hcl:1:1: Unsupported block type: Blocks of type \"rulee\" are not expected here. Did you mean \"rule\"?",
			},
			files: withProfiles(map[string]string{"main.hcl": src(`
rulee "x" {
}
`)}),
		},
		{
			name: "unknown attributes with suggestions",
			want: []string{
				"main.hcl:2:3: Unsupported argument: An argument named \"max_duraton\" is not expected here. Did you mean \"max_duration\"?",
				"main.hcl:5:10: Missing required argument: The argument \"effect\" is required, but no definition was found.",
				"main.hcl:6:3: Unsupported argument: An argument named \"efect\" is not expected here. Did you mean \"effect\"?",
				"main.hcl:10:5: Unsupported argument: An argument named \"timezon\" is not expected here. Did you mean \"timezone\"?",
				"main.hcl:14:18: Missing required argument: The argument \"reason_codes\" is required, but no definition was found.",
				"main.hcl:17:3: Unsupported argument: An argument named \"reason_code\" is not expected here. Did you mean \"reason_codes\"?",
			},
			files: withProfiles(map[string]string{"main.hcl": src(`
settings {
  max_duraton = "1h"
}

rule "r" {
  efect      = "allow"
  profiles   = ["app"]
  principals = ["*"]
  schedule {
    timezon = "UTC"
  }
}

break_glass "bg" {
  profiles    = ["app"]
  principals  = ["*"]
  reason_code = ["incident"]
}
`)}),
		},
		{
			name: "missing required attributes",
			want: []string{
				"main.hcl:1:15: Missing required argument: The argument \"role_arn\" is required, but no definition was found.",
				"main.hcl:5:10: Missing required argument: The argument \"effect\" is required, but no definition was found.",
				"main.hcl:5:10: Missing required argument: The argument \"profiles\" is required, but no definition was found.",
				"main.hcl:5:10: Missing required argument: The argument \"principals\" is required, but no definition was found.",
				"main.hcl:8:18: Missing required argument: The argument \"profiles\" is required, but no definition was found.",
				"main.hcl:8:18: Missing required argument: The argument \"principals\" is required, but no definition was found.",
				"main.hcl:8:18: Missing required argument: The argument \"reason_codes\" is required, but no definition was found.",
			},
			files: map[string]string{"main.hcl": src(`
profile "app" {
  description = "no role"
}

rule "r" {
}

break_glass "bg" {
}
`)},
		},
		{
			name: "missing block label",
			want: []string{
				"main.hcl:1:6: Missing name for rule: All rule blocks must have 1 labels (name).",
			},
			files: withProfiles(map[string]string{"main.hcl": src(`
rule {
  effect = "allow"
}
`)}),
		},
		{
			name: "duplicate profile across two files",
			want: []string{
				"profiles.hcl:1:9: Duplicate profile: A profile named \"app\" was already defined at more.hcl:1.",
			},
			files: withProfiles(map[string]string{"more.hcl": src(`
profile "app" {
  role_arn = "arn:aws:iam::111122223333:role/app2"
}
`)}),
		},
		{
			name: "duplicate rule and break_glass",
			want: []string{
				"b.hcl:1:6: Duplicate rule: A rule named \"r\" was already defined at a.hcl:1.",
				"b.hcl:7:13: Duplicate break_glass: A break_glass named \"bg\" was already defined at a.hcl:7.",
			},
			files: withProfiles(map[string]string{
				"a.hcl": src(`
rule "r" {
  effect     = "allow"
  profiles   = ["app"]
  principals = ["*"]
}

break_glass "bg" {
  profiles     = ["app"]
  principals   = ["*"]
  reason_codes = ["incident"]
}
`),
				"b.hcl": src(`
rule "r" {
  effect     = "deny"
  profiles   = ["app"]
  principals = ["arn:aws:iam::111122223333:role/x"]
}

break_glass "bg" {
  profiles     = ["app"]
  principals   = ["*"]
  reason_codes = ["incident"]
}
`)}),
		},
		{
			name: "rule and break_glass share a name",
			want: []string{
				"main.hcl:7:1: Name taken: The rule at main.hcl:1 is also named \"oncall\"; decisions name both rules and break_glass blocks, so names must differ.",
			},
			files: withProfiles(map[string]string{"main.hcl": src(`
rule "oncall" {
  effect     = "allow"
  profiles   = ["app"]
  principals = ["arn:aws:iam::111122223333:role/dev"]
}

break_glass "oncall" {
  profiles     = ["app"]
  principals   = ["*"]
  reason_codes = ["incident"]
}
`)}),
		},
		{
			name: "duplicate settings block across files",
			want: []string{
				"b.hcl:2:1: Duplicate settings block: Only one settings block is allowed; the first is at a.hcl:1.",
			},
			files: withProfiles(map[string]string{
				"a.hcl": src(`
settings {
  max_duration = "1h"
}
`),
				"b.hcl": src(`
# second
settings {
  max_duration = "30m"
}
`)}),
		},
		{
			name: "duplicate schedule block",
			want: []string{
				"main.hcl:8:3: Duplicate schedule block: A rule takes one schedule block; the first is at main.hcl:5.",
			},
			files: withProfiles(map[string]string{"main.hcl": src(`
rule "r" {
  effect     = "allow"
  profiles   = ["app"]
  principals = ["*"]
  schedule {
    days = ["mon"]
  }
  schedule {
    days = ["tue"]
  }
}
`)}),
		},
		{
			name: "invalid and reserved names",
			want: []string{
				"main.hcl:1:9: Invalid profile name: \"app admin\" is not a valid profile name: 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit.",
				"main.hcl:5:6: Reserved name: \"default-deny\" names decisions that no rule made; choose another name.",
				"main.hcl:11:13: Invalid break_glass name: \" padded\" is not a valid break_glass name: 1 to 128 printable characters, not starting or ending with a space.",
			},
			files: withProfiles(map[string]string{"main.hcl": src(`
profile "app admin" {
  role_arn = "arn:aws:iam::111122223333:role/x"
}

rule "default-deny" {
  effect     = "deny"
  profiles   = ["app"]
  principals = ["*"]
}

break_glass " padded" {
  profiles     = ["app"]
  principals   = ["*"]
  reason_codes = ["incident"]
}
`)}),
		},
		{
			name: "wrong types",
			want: []string{
				"main.hcl:2:15: Incorrect attribute value type: Inappropriate value for attribute \"operators\": list of string required.",
				"main.hcl:6:18: Incorrect attribute value type: Inappropriate value for attribute \"role_arn\": string required.",
				"main.hcl:7:18: Invalid duration: \"max_duration\" must be a duration such as \"15m\" or \"1h\" (Go duration syntax); \"30\" does not parse.",
				"main.hcl:11:19: Incorrect attribute value type: Inappropriate value for attribute \"effect\": string required.",
				"main.hcl:12:19: Incorrect attribute value type: Inappropriate value for attribute \"profiles\": list of string required.",
				"main.hcl:13:19: Incorrect attribute value type: Inappropriate value for attribute \"principals\": list of string required; an element is null.",
				"main.hcl:15:19: Incorrect attribute value type: Inappropriate value for attribute \"min_approvals\": number required.",
				"main.hcl:16:19: Incorrect attribute value type: Inappropriate value for attribute \"reason\": string required.",
			},
			files: withProfiles(map[string]string{"main.hcl": src(`
settings {
  operators = "arn:aws:iam::111122223333:role/security"
}

profile "web" {
  role_arn     = ["arn:aws:iam::111122223333:role/web"]
  max_duration = 30
}

rule "r" {
  effect        = ["require_approval"]
  profiles      = "app"
  principals    = ["*", null]
  approvers     = ["arn:aws:iam::111122223333:role/sec"]
  min_approvals = "two"
  reason        = { text = "x" }
}
`)}),
		},
		{
			name: "empty lists and non-ARN principal globs",
			want: []string{
				"main.hcl:3:16: Empty list: \"profiles\" must list at least one value.",
				"main.hcl:4:16: Invalid principal glob: \"engineer-*\" in \"principals\" is not an ARN glob: principals are matched by ARN, e.g. \"arn:aws:iam::111122223333:role/engineer-*\", or \"*\" for anyone.",
			},
			files: withProfiles(map[string]string{"main.hcl": src(`
rule "r" {
  effect     = "allow"
  profiles   = []
  principals = ["engineer-*"]
}
`)}),
		},
		{
			name: "test block in a policy file",
			want: []string{
				"main.hcl:1:1: Test in a policy file: test blocks belong in files ending in \".test.hcl\"; main.hcl holds policy.",
			},
			files: withProfiles(map[string]string{"main.hcl": src(`
test "t" {
  principal = "arn:aws:iam::111122223333:user/alice"
  profile   = "app"
  expect    = "deny"
}
`)}),
		},
		{
			name: "syntax error",
			want: []string{
				"main.hcl:2:18: Invalid multi-line string: Quoted strings may not be split over multiple lines. To produce a multi-line string, either use the \\n escape to represent a newline character or use the \"heredoc\" multi-line template syntax.",
				"main.hcl:2:18: Unterminated template string: No closing marker was found for the string.",
				"main.hcl:3:2: Invalid multi-line string: Quoted strings may not be split over multiple lines. To produce a multi-line string, either use the \\n escape to represent a newline character or use the \"heredoc\" multi-line template syntax.",
			},
			files: withProfiles(map[string]string{"main.hcl": src(`
rule "r" {
  effect = "allow
}
`)}),
		},
	})
}

func TestCompileProfiles(t *testing.T) {
	runCompileCases(t, []compileCase{
		{
			name: "profiles glob matches no profile",
			want: []string{
				"main.hcl:3:16: Profile glob matches no profile: \"ap\" matches none of the profiles (app, db-admin). Did you mean \"app\"?",
				"main.hcl:3:16: Profile glob matches no profile: \"web-*\" matches none of the profiles (app, db-admin).",
				"main.hcl:8:18: Profile glob matches no profile: \"db_admin\" matches none of the profiles (app, db-admin). Did you mean \"db-admin\"?",
			},
			files: withProfiles(map[string]string{"main.hcl": src(`
rule "r" {
  effect     = "allow"
  profiles   = ["ap", "db-*", "web-*"]
  principals = ["*"]
}

break_glass "bg" {
  profiles     = ["db_admin"]
  principals   = ["*"]
  reason_codes = ["incident"]
}
`)}),
		},
		{
			name: "role_arn not an IAM role ARN",
			want: []string{
				"main.hcl:2:14: Invalid role ARN: role_arn \"arn:aws:iam::111122223333:user/alice\" is not an IAM role ARN such as \"arn:aws:iam::111122223333:role/NAME\".",
				"main.hcl:6:14: Invalid role ARN: role_arn \"arn:aws:iam::1111:role/x\" is not an IAM role ARN such as \"arn:aws:iam::111122223333:role/NAME\".",
				"main.hcl:10:14: Invalid role ARN: role_arn \"arn:aws:sts::111122223333:assumed-role/x/y\" is not an IAM role ARN such as \"arn:aws:iam::111122223333:role/NAME\".",
			},
			files: map[string]string{"main.hcl": src(`
profile "user" {
  role_arn = "arn:aws:iam::111122223333:user/alice"
}

profile "short-account" {
  role_arn = "arn:aws:iam::1111:role/x"
}

profile "session" {
  role_arn = "arn:aws:sts::111122223333:assumed-role/x/y"
}

profile "ok-path" {
  role_arn = "arn:aws-us-gov:iam::111122223333:role/a/b/c"
}
`)},
		},
	})
}

func TestCompileDurations(t *testing.T) {
	runCompileCases(t, []compileCase{
		{
			name: "durations that do not parse or exceed 1h",
			want: []string{
				"main.hcl:2:18: Duration too long: \"max_duration\" is 1h30m; sessions last at most 1h (STS role chaining).",
				"main.hcl:7:22: Invalid duration: \"default_duration\" must be a duration such as \"15m\" or \"1h\" (Go duration syntax); \"15 minutes\" does not parse.",
				"main.hcl:8:22: Duration too long: \"max_duration\" is 2h; sessions last at most 1h (STS role chaining).",
				"main.hcl:15:18: Invalid duration: \"max_duration\" must be a positive whole number of seconds; got \"1.5s\".",
				"main.hcl:22:18: Invalid duration: \"max_duration\" must be a positive whole number of seconds; got \"0s\".",
			},
			files: withProfiles(map[string]string{"main.hcl": src(`
settings {
  max_duration = "90m"
}

profile "web" {
  role_arn         = "arn:aws:iam::111122223333:role/web"
  default_duration = "15 minutes"
  max_duration     = "2h"
}

rule "r" {
  effect       = "allow"
  profiles     = ["app"]
  principals   = ["*"]
  max_duration = "1.5s"
}

break_glass "bg" {
  profiles     = ["app"]
  principals   = ["*"]
  reason_codes = ["incident"]
  max_duration = "0s"
}
`)}),
		},
		{
			name: "settings default above max",
			want: []string{
				"main.hcl:2:22: Default above maximum: default_duration (30m) exceeds max_duration (20m).",
			},
			files: withProfiles(map[string]string{"main.hcl": src(`
settings {
  default_duration = "30m"
  max_duration     = "20m"
}
`)}),
		},
		{
			name: "profile default above max",
			want: []string{
				"main.hcl:3:22: Default above maximum: default_duration (45m) exceeds the profile's max_duration (30m).",
			},
			files: map[string]string{"main.hcl": src(`
profile "app" {
  role_arn         = "arn:aws:iam::111122223333:role/app"
  default_duration = "45m"
  max_duration     = "30m"
}
`)},
		},
		{
			name: "durations below the STS minimum are errors",
			want: []string{
				"main.hcl:2:22: Duration below the STS minimum: \"default_duration\" is 5m, but STS issues sessions of 15m at least: the default would be advertised and then refused. Use 15m or more.",
				"main.hcl:7:18: Duration below the STS minimum: \"max_duration\" is 10m, but STS issues sessions of 15m at least: a session under this block could never be vended. Use 15m or more.",
			},
			files: withProfiles(map[string]string{"main.hcl": src(`
settings {
  default_duration = "5m"
}

profile "web" {
  role_arn     = "arn:aws:iam::111122223333:role/web"
  max_duration = "10m"
}

rule "r" {
  effect       = "allow"
  profiles     = ["app"]
  principals   = ["*"]
  max_duration = "900s"
}
`)}),
		},
		{
			name: "max_duration on a deny rule warns",
			want: []string{
				"main.hcl:5:18: warning: Ignored max_duration: max_duration caps sessions a rule allows; a deny rule allows none.",
			},
			files: withProfiles(map[string]string{"main.hcl": src(`
rule "r" {
  effect       = "deny"
  profiles     = ["app"]
  principals   = ["*"]
  max_duration = "30m"
}
`)}),
		},
		{
			name: "exactly 1h and 15m are fine",
			files: withProfiles(map[string]string{"main.hcl": src(`
settings {
  default_duration = "15m"
  max_duration     = "1h"
}

profile "web" {
  role_arn         = "arn:aws:iam::111122223333:role/web"
  default_duration = "60m"
  max_duration     = "3600s"
}
`)}),
		},
	})
}

func TestCompileRuleValues(t *testing.T) {
	runCompileCases(t, []compileCase{
		{
			name: "bad effect",
			want: []string{
				"main.hcl:2:16: Invalid effect: effect must be one of \"allow\", \"deny\", \"require_approval\"; got \"alow\". Did you mean \"allow\"?",
				"main.hcl:8:16: Invalid effect: effect must be one of \"allow\", \"deny\", \"require_approval\"; got \"permit\".",
			},
			files: withProfiles(map[string]string{"main.hcl": src(`
rule "typo" {
  effect     = "alow"
  profiles   = ["app"]
  principals = ["*"]
}

rule "unknown" {
  effect     = "permit"
  profiles   = ["app"]
  principals = ["*"]
}
`)}),
		},
		{
			name: "bad day names",
			want: []string{
				"main.hcl:6:12: Invalid day: \"Mon\" is not a day; use \"mon\", \"tue\", \"wed\", \"thu\", \"fri\", \"sat\", \"sun\". Did you mean \"mon\"?",
				"main.hcl:6:12: Invalid day: \"tues\" is not a day; use \"mon\", \"tue\", \"wed\", \"thu\", \"fri\", \"sat\", \"sun\". Did you mean \"tue\"?",
				"main.hcl:6:12: Invalid day: \"funday\" is not a day; use \"mon\", \"tue\", \"wed\", \"thu\", \"fri\", \"sat\", \"sun\".",
			},
			files: withProfiles(map[string]string{"main.hcl": src(`
rule "r" {
  effect     = "allow"
  profiles   = ["app"]
  principals = ["*"]
  schedule {
    days = ["Mon", "tues", "funday", "fri"]
  }
}
`)}),
		},
		{
			name: "bad hours",
			want: []string{
				"main.hcl:6:13: Invalid hours: \"8-18\": hours must look like \"08:00-18:00\" (start-end, 24-hour clock).",
				"main.hcl:15:13: Invalid hours: \"08:00-08:00\": the window is empty: start and end are equal (use \"00:00-24:00\" for the whole day).",
				"main.hcl:24:13: Invalid hours: \"00:00-00:00\": the window is empty: start and end are equal (use \"00:00-24:00\" for the whole day).",
				"main.hcl:33:13: Invalid hours: \"24:00-06:00\": the start must be a time from 00:00 to 23:59.",
				"main.hcl:42:13: Invalid hours: \"08:00-24:30\": the end must be a time from 00:00 to 24:00.",
				"main.hcl:51:13: Invalid hours: \"08:60-09:00\": the start must be a time from 00:00 to 23:59.",
			},
			files: withProfiles(map[string]string{"main.hcl": src(`
rule "format" {
  effect     = "allow"
  profiles   = ["app"]
  principals = ["*"]
  schedule {
    hours = "8-18"
  }
}

rule "equal" {
  effect     = "allow"
  profiles   = ["app"]
  principals = ["*"]
  schedule {
    hours = "08:00-08:00"
  }
}

rule "midnight-to-midnight" {
  effect     = "allow"
  profiles   = ["app"]
  principals = ["*"]
  schedule {
    hours = "00:00-00:00"
  }
}

rule "start" {
  effect     = "allow"
  profiles   = ["app"]
  principals = ["*"]
  schedule {
    hours = "24:00-06:00"
  }
}

rule "end" {
  effect     = "allow"
  profiles   = ["app"]
  principals = ["*"]
  schedule {
    hours = "08:00-24:30"
  }
}

rule "minutes" {
  effect     = "allow"
  profiles   = ["app"]
  principals = ["*"]
  schedule {
    hours = "08:60-09:00"
  }
}
`)}),
		},
		{
			name: "bad timezones",
			want: []string{
				"main.hcl:6:16: Invalid timezone: \"Mars/Olympus_Mons\" is not an IANA time zone name such as \"UTC\" or \"Europe/Berlin\".",
				"main.hcl:15:16: Invalid timezone: \"Local\" is not an IANA time zone name such as \"UTC\" or \"Europe/Berlin\".",
				"main.hcl:24:16: Invalid timezone: \"\" is not an IANA time zone name such as \"UTC\" or \"Europe/Berlin\".",
			},
			files: withProfiles(map[string]string{"main.hcl": src(`
rule "mars" {
  effect     = "allow"
  profiles   = ["app"]
  principals = ["*"]
  schedule {
    timezone = "Mars/Olympus_Mons"
  }
}

rule "local" {
  effect     = "allow"
  profiles   = ["app"]
  principals = ["*"]
  schedule {
    timezone = "Local"
  }
}

rule "empty" {
  effect     = "allow"
  profiles   = ["app"]
  principals = ["*"]
  schedule {
    timezone = ""
  }
}
`)}),
		},
		{
			name: "bad CIDRs",
			want: []string{
				"main.hcl:5:16: Invalid CIDR: \"10.0.0.0/33\" is not a CIDR block such as \"10.0.0.0/8\" or an IP address.",
				"main.hcl:5:16: Invalid CIDR: \"10.1.2.3/8\" has host bits set. Did you mean \"10.0.0.0/8\"?",
				"main.hcl:5:16: Invalid CIDR: \"not-an-ip\" is not a CIDR block such as \"10.0.0.0/8\" or an IP address.",
				"main.hcl:5:16: Invalid CIDR: \"2001:db8::1/32\" has host bits set. Did you mean \"2001:db8::/32\"?",
			},
			files: withProfiles(map[string]string{"main.hcl": src(`
rule "r" {
  effect     = "allow"
  profiles   = ["app"]
  principals = ["*"]
  source_ips = ["10.0.0.0/33", "10.1.2.3/8", "not-an-ip", "10.1.2.3", "2001:db8::1/32", "192.168.0.0/16"]
}
`)}),
		},
		{
			name: "bad account and organization IDs",
			want: []string{
				"main.hcl:5:16: Invalid account ID: \"12345\" is not a 12-digit AWS account ID.",
				"main.hcl:5:16: Invalid account ID: \"11112222333a\" is not a 12-digit AWS account ID.",
				"main.hcl:6:16: Invalid organization ID: \"o-short\" is not an AWS Organizations ID such as \"o-a1b2c3d4e5\".",
				"main.hcl:6:16: Invalid organization ID: \"O-A1B2C3D4E5\" is not an AWS Organizations ID such as \"o-a1b2c3d4e5\".",
			},
			files: withProfiles(map[string]string{"main.hcl": src(`
rule "r" {
  effect     = "allow"
  profiles   = ["app"]
  principals = ["*"]
  accounts   = ["12345", "111122223333", "11112222333a"]
  org_ids    = ["o-short", "O-A1B2C3D4E5", "o-a1b2c3d4e5"]
}
`)}),
		},
		{
			name: "require_approval without approvers",
			want: []string{
				"main.hcl:1:1: Missing approvers: A require_approval rule needs approvers: globs over the ARNs of the principals who may approve.",
			},
			files: withProfiles(map[string]string{"main.hcl": src(`
rule "r" {
  effect     = "require_approval"
  profiles   = ["app"]
  principals = ["*"]
}
`)}),
		},
		{
			name: "approvers on other effects",
			want: []string{
				"main.hcl:5:3: Unexpected approvers: approvers is only valid with effect = \"require_approval\", not \"allow\".",
				"main.hcl:8:1: warning: Users can never match: users and approver_users match principal.user, which is empty unless settings.trusted_session_roles lists the caller's role; it lists none.",
				"main.hcl:12:3: Unexpected approver_users: approver_users is only valid with effect = \"require_approval\", not \"deny\".",
				"main.hcl:13:3: Unexpected min_approvals: min_approvals is only valid with effect = \"require_approval\", not \"deny\".",
			},
			files: withProfiles(map[string]string{"main.hcl": src(`
rule "allow" {
  effect    = "allow"
  profiles  = ["app"]
  principals = ["arn:aws:iam::111122223333:role/dev"]
  approvers = ["arn:aws:iam::111122223333:role/sec"]
}

rule "deny" {
  effect         = "deny"
  profiles       = ["app"]
  principals     = ["arn:aws:iam::111122223333:role/contractor"]
  approver_users = ["*@example.com"]
  min_approvals  = 2
}
`)}),
		},
		{
			name: "min_approvals out of range",
			want: []string{
				"main.hcl:6:19: Invalid value: \"min_approvals\" must be a whole number from 1 to 10.",
				"main.hcl:14:19: Invalid value: \"min_approvals\" must be a whole number from 1 to 10.",
			},
			files: withProfiles(map[string]string{"main.hcl": src(`
rule "zero" {
  effect        = "require_approval"
  profiles      = ["app"]
  principals    = ["*"]
  approvers     = ["arn:aws:iam::111122223333:role/sec"]
  min_approvals = 0
}

rule "fraction" {
  effect        = "require_approval"
  profiles      = ["db-admin"]
  principals    = ["*"]
  approvers     = ["arn:aws:iam::111122223333:role/sec"]
  min_approvals = 1.5
}
`)}),
		},
		{
			name: "break_glass values",
			want: []string{
				"main.hcl:4:30: Invalid reason code: \"Security\" must be 1 to 64 lowercase letters, digits, '_' or '-'.",
				"main.hcl:4:30: Duplicate reason code: \"incident\" is listed twice.",
				"main.hcl:5:30: Invalid value: \"min_justification_length\" must be a whole number from 0 to 1000.",
			},
			files: withProfiles(map[string]string{"main.hcl": src(`
break_glass "bg" {
  profiles                 = ["app"]
  principals               = ["*"]
  reason_codes             = ["incident", "Security", "incident"]
  min_justification_length = -1
}
`)}),
		},
	})
}

func TestCompileExpressions(t *testing.T) {
	runCompileCases(t, []compileCase{
		{
			name: "references outside principal and request",
			want: []string{
				"main.hcl:5:16: Unsupported reference: Expressions may only use principal.* and request.*, not \"var\".",
				"main.hcl:12:16: Unsupported attribute: principal has no attribute \"acount_id\"; it has: account_id, arn, caller_arn, name, org_id, session_name, type, user, user_id. Did you mean \"account_id\"?",
				"main.hcl:19:16: Unsupported reference: Use principal.NAME with one of: account_id, arn, caller_arn, name, org_id, session_name, type, user, user_id.",
				"main.hcl:26:16: Unsupported reference: Expressions may only use principal.* and request.*, not \"requests\". Did you mean \"request\"?",
			},
			files: withProfiles(map[string]string{"main.hcl": src(`
rule "var" {
  effect     = "allow"
  profiles   = ["app"]
  principals = ["*"]
  condition  = var.x == 1
}

rule "typo" {
  effect     = "allow"
  profiles   = ["app"]
  principals = ["*"]
  condition  = principal.acount_id == "111122223333"
}

rule "bare" {
  effect     = "allow"
  profiles   = ["app"]
  principals = ["*"]
  condition  = principal == "x"
}

rule "root-typo" {
  effect     = "allow"
  profiles   = ["app"]
  principals = ["*"]
  condition  = requests.profile == "app"
}
`)}),
		},
		{
			name: "references in session scoping",
			want: []string{
				"main.hcl:5:92: Unsupported reference: Expressions may only use principal.* and request.*, not \"local\".",
				"main.hcl:8:14: Unsupported attribute: principal has no attribute \"acount_id\"; it has: account_id, arn, caller_arn, name, org_id, session_name, type, user, user_id. Did you mean \"account_id\"?",
			},
			files: map[string]string{"main.hcl": src(`
profile "app" {
  role_arn = "arn:aws:iam::111122223333:role/app"
  session_policy = {
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Action = "s3:GetObject", Resource = "arn:aws:s3:::b/${local.prefix}/*" }]
  }
  session_tags = {
    tenant = principal.acount_id
  }
}
`)},
		},
		{
			name: "non-bool conditions",
			want: []string{
				"main.hcl:5:16: Incorrect attribute value type: Inappropriate value for attribute \"condition\": bool required, got number.",
				"main.hcl:12:16: Incorrect attribute value type: Inappropriate value for attribute \"condition\": bool required, got string.",
				"main.hcl:19:16: Incorrect attribute value type: Inappropriate value for attribute \"condition\": bool required, got object.",
			},
			files: withProfiles(map[string]string{"main.hcl": src(`
rule "number" {
  effect     = "allow"
  profiles   = ["app"]
  principals = ["*"]
  condition  = request.duration_seconds
}

rule "string" {
  effect     = "deny"
  profiles   = ["app"]
  principals = ["*"]
  condition  = principal.org_id
}

rule "object" {
  effect     = "allow"
  profiles   = ["app"]
  principals = ["*"]
  condition  = { a = true }
}
`)}),
		},
		{
			name: "unknown function",
			want: []string{
				"main.hcl:5:16: Call to unknown function: There is no function named \"jsonencode\".",
			},
			files: withProfiles(map[string]string{"main.hcl": src(`
rule "r" {
  effect     = "allow"
  profiles   = ["app"]
  principals = ["*"]
  condition  = jsonencode(principal.name) == "x"
}
`)}),
		},
		{
			name: "valid conditions",
			files: withProfiles(map[string]string{"main.hcl": src(`
rule "functions" {
  effect     = "allow"
  profiles   = ["app"]
  principals = ["*"]
  condition  = startswith(principal.session_name, "build-") && contains(["a", "b"], lower(principal.name))
}

rule "try" {
  effect     = "allow"
  profiles   = ["db-admin"]
  principals = ["*"]
  condition  = try(tonumber(principal.session_name) > 3, false)
}
`)}),
		},
		{
			name: "session_policy that is not an object",
			want: []string{
				"main.hcl:3:20: Incorrect attribute value type: Inappropriate value for attribute \"session_policy\": an object is required, got string.",
				"main.hcl:8:20: Incorrect attribute value type: Inappropriate value for attribute \"session_policy\": an object is required, got tuple.",
				"main.hcl:13:18: Incorrect attribute value type: Inappropriate value for attribute \"session_tags\": an object is required, got tuple.",
			},
			files: map[string]string{"main.hcl": src(`
profile "string" {
  role_arn       = "arn:aws:iam::111122223333:role/a"
  session_policy = "{\"Version\": \"2012-10-17\"}"
}

profile "list" {
  role_arn       = "arn:aws:iam::111122223333:role/b"
  session_policy = [{ Version = "2012-10-17" }]
}

profile "tags" {
  role_arn     = "arn:aws:iam::111122223333:role/c"
  session_tags = ["team"]
}
`)},
		},
	})
}

// policyProfile wraps a session_policy body in a profile block.
func policyProfile(name, body string) string {
	return fmt.Sprintf("profile %q {\n  role_arn = \"arn:aws:iam::111122223333:role/%s\"\n  session_policy = %s\n}\n", name, name, body)
}

func TestCompileSessionPolicy(t *testing.T) {
	runCompileCases(t, []compileCase{
		{
			name: "missing Version and Statement",
			want: []string{
				"main.hcl:3:20: Invalid session policy: Version is required; use \"2012-10-17\".",
				"main.hcl:3:20: Invalid session policy: Statement is required: an object or a list of objects.",
			},
			files: map[string]string{"main.hcl": policyProfile("app", `{
    Id = "x"
  }`)},
		},
		{
			name: "unknown element with suggestion",
			want: []string{
				"main.hcl:3:20: Invalid session policy: unknown policy element \"Statment\" (allowed: Version, Id, Statement) Did you mean \"Statement\"?",
				"main.hcl:3:20: Invalid session policy: Statement is required: an object or a list of objects.",
			},
			files: map[string]string{"main.hcl": policyProfile("app", `{
    Version  = "2012-10-17"
    Statment = [{ Effect = "Allow", Action = "s3:*", Resource = "*" }]
  }`)},
		},
		{
			name: "bad statements",
			want: []string{
				"main.hcl:3:20: Invalid session policy: Statement[0]: Effect must be \"Allow\" or \"Deny\".",
				"main.hcl:3:20: Invalid session policy: Statement[1]: use Action or NotAction, not both.",
				"main.hcl:3:20: Invalid session policy: Statement[2]: Principal is not allowed in a session policy.",
				"main.hcl:3:20: Invalid session policy: Statement[3]: unknown statement element \"Resources\" (allowed: Sid, Effect, Action, NotAction, Resource, NotResource, Condition) Did you mean \"Resource\"?",
				"main.hcl:3:20: Invalid session policy: Statement[3]: Action must be a non-empty string or list of strings.",
				"main.hcl:3:20: Invalid session policy: Statement[3]: Resource (or NotResource) is required.",
				"main.hcl:3:20: Invalid session policy: Statement[4]: Condition \"StringEquals\" must map condition keys to values.",
				"main.hcl:3:20: Invalid session policy: Statement[4]: Sid must be a string of letters and digits.",
			},
			files: map[string]string{"main.hcl": policyProfile("app", `{
    Version = "2012-10-17"
    Statement = [
      { Effect = "allow", Action = "s3:*", Resource = "*" },
      { Effect = "Allow", Action = "s3:*", NotAction = "iam:*", Resource = "*" },
      { Effect = "Allow", Action = "s3:*", Resource = "*", Principal = { AWS = "*" } },
      { Effect = "Allow", Action = [], Resources = "*" },
      { Sid = "no-dashes", Effect = "Deny", Action = "s3:*", Resource = "*", Condition = { StringEquals = "x" } },
    ]
  }`)},
		},
		{
			name: "bad Version and empty Statement",
			want: []string{
				"main.hcl:3:20: Invalid session policy: Version 2012-10-18 is not an IAM policy version; use \"2012-10-17\".",
				"main.hcl:3:20: Invalid session policy: Statement must hold at least one statement.",
			},
			files: map[string]string{"main.hcl": policyProfile("app", `{
    Version   = "2012-10-18"
    Statement = []
  }`)},
		},
		{
			name: "valid single statement object",
			files: map[string]string{"main.hcl": policyProfile("app", `{
    Version   = "2012-10-17"
    Statement = { Effect = "Allow", NotAction = "iam:*", NotResource = ["arn:aws:s3:::x"] }
  }`)},
		},
	})
}

// longPolicy is a profile whose session policy lists n resources, each
// interpolating value.
func longPolicy(n int, value string) string {
	var res []string
	for i := 0; i < n; i++ {
		res = append(res, fmt.Sprintf(`"arn:aws:s3:::b%d/%s/*"`, i, value))
	}
	return policyProfile("app", `{
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Action = "s3:GetObject", Resource = [`+strings.Join(res, ", ")+`] }]
  }`)
}

func TestCompileSessionPolicyLength(t *testing.T) {
	// With the caller ARN of a typical role session, 12 resources fit in
	// 2,048 characters; with the longest plausible caller ARN they do not.
	short := "arn:aws:sts::111122223333:assumed-role/engineer-dev/alice"
	if _, got := compileFiles(t, map[string]string{"main.hcl": longPolicy(12, short)}); len(got) != 0 {
		t.Fatalf("with short values: %q", got)
	}
	_, got := compileFiles(t, map[string]string{"main.hcl": longPolicy(12, "${principal.caller_arn}")})
	checkDiags(t, got, []string{
		"main.hcl:3:20: Invalid session policy: the session policy is 2448 characters, STS allows 2048 (rendered with the longest plausible request values).",
	})
}

// tagsProfile wraps a session_tags body in a profile block.
func tagsProfile(body string) string {
	return "profile \"app\" {\n  role_arn = \"arn:aws:iam::111122223333:role/app\"\n  session_tags = " + body + "\n}\n"
}

func manyTags(n int) string {
	var b strings.Builder
	b.WriteString("{\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "    t%02d = \"v\"\n", i)
	}
	b.WriteString("  }")
	return b.String()
}

func TestCompileSessionTags(t *testing.T) {
	runCompileCases(t, []compileCase{
		{
			name: "keys",
			want: []string{
				"main.hcl:3:18: Invalid session tags: tag \"\": keys must be 1 to 128 characters.",
				"main.hcl:3:18: Invalid session tags: tag \"AWS:x\": the prefixes \"sentinel:\" and \"aws:\" are reserved.",
				"main.hcl:3:18: Invalid session tags: tag \"kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk\": keys must be 1 to 128 characters.",
				"main.hcl:3:18: Invalid session tags: tag \"sentinel:id\": the prefixes \"sentinel:\" and \"aws:\" are reserved.",
				"main.hcl:3:18: Invalid session tags: tags \"Team\" and \"team\" differ only in case; STS treats them as one.",
				"main.hcl:3:18: Invalid session tags: tag \"team!\": keys may hold only letters, digits, spaces and _ . : / = + - @.",
			},
			files: map[string]string{"main.hcl": tagsProfile(`{
    "` + strings.Repeat("k", 129) + `" = "v"
    "team!"       = "v"
    ""            = "v"
    "sentinel:id" = "v"
    "AWS:x"       = "v"
    "Team"        = "a"
    "team"        = "b"
  }`)},
		},
		{
			name: "values",
			want: []string{
				"main.hcl:3:18: Invalid session tags: tag \"long\": the value is 351 characters, STS allows 256 (rendered with the longest plausible request values).",
				"main.hcl:3:18: Invalid session tags: tag \"number\": the value must be a string.",
				"main.hcl:3:18: Invalid session tags: tag \"star\": values may hold only letters, digits, spaces and _ . : / = + - @.",
			},
			files: map[string]string{"main.hcl": tagsProfile(`{
    long   = "${principal.caller_arn}/${principal.caller_arn}"
    star   = "a*b"
    number = 1
    ok     = principal.user_id
  }`)},
		},
		{
			name: "47 tags plus the service's 4 exceed 50",
			want: []string{
				"main.hcl:3:18: Invalid session tags: 47 session tags plus the service's 4 exceed the STS limit of 50.",
			},
			files: map[string]string{"main.hcl": tagsProfile(manyTags(47))},
		},
		{
			name:  "46 tags fit",
			files: map[string]string{"main.hcl": tagsProfile(manyTags(46))},
		},
	})
}

func TestCompileWarnings(t *testing.T) {
	runCompileCases(t, []compileCase{
		{
			name: "rule shadowed by a wider deny",
			want: []string{
				"main.hcl:7:1: warning: Rule can never match: deny rule \"deny-all\" (main.hcl:1) matches every request that rule \"devs\" matches, and deny always wins.",
				"main.hcl:14:1: warning: Rule can never match: deny rule \"deny-all\" (main.hcl:1) matches every request that rule \"approval\" matches, and deny always wins.",
			},
			files: withProfiles(map[string]string{"main.hcl": src(`
rule "deny-all" {
  effect     = "deny"
  profiles   = ["*"]
  principals = ["arn:aws:iam::111122223333:role/*"]
}

rule "devs" {
  effect     = "allow"
  profiles   = ["app"]
  principals = ["arn:aws:iam::111122223333:role/dev-*"]
  condition  = request.duration_seconds <= 900
}

rule "approval" {
  effect     = "require_approval"
  profiles   = ["db-*"]
  principals = ["arn:aws:iam::111122223333:role/dba"]
  approvers  = ["arn:aws:iam::111122223333:role/sec"]
}
`)}),
		},
		{
			name: "rule shadowed by a deny with the same scope",
			want: []string{
				"main.hcl:1:1: warning: Rule can never match: deny rule \"b-deny\" (main.hcl:8) matches every request that rule \"a-allow\" matches, and deny always wins.",
			},
			files: withProfiles(map[string]string{"main.hcl": src(`
rule "a-allow" {
  effect     = "allow"
  profiles   = ["app"]
  principals = ["arn:aws:iam::111122223333:role/dev"]
  source_ips = ["10.0.0.0/8"]
}

rule "b-deny" {
  effect     = "deny"
  profiles   = ["app"]
  principals = ["arn:aws:iam::111122223333:role/dev"]
  source_ips = ["10.0.0.0/8"]
}
`)}),
		},
		{
			name: "no warning when the deny is narrower",
			files: withProfiles(map[string]string{"main.hcl": src(`
rule "deny-long" {
  effect     = "deny"
  profiles   = ["*"]
  principals = ["*"]
  condition  = request.duration_seconds > 1800
}

rule "deny-outside" {
  effect     = "deny"
  profiles   = ["*"]
  principals = ["*"]
  source_ips = ["192.0.2.0/24"]
}

rule "deny-other-profile" {
  effect     = "deny"
  profiles   = ["db-*"]
  principals = ["*"]
}

rule "devs" {
  effect     = "allow"
  profiles   = ["app", "db-admin"]
  principals = ["arn:aws:iam::111122223333:role/dev-*"]
}
`)}),
		},
		{
			name: "users without trusted_session_roles",
			want: []string{
				"main.hcl:1:1: warning: Users can never match: users and approver_users match principal.user, which is empty unless settings.trusted_session_roles lists the caller's role; it lists none.",
				"main.hcl:8:1: warning: Users can never match: users and approver_users match principal.user, which is empty unless settings.trusted_session_roles lists the caller's role; it lists none.",
			},
			files: withProfiles(map[string]string{"main.hcl": src(`
rule "users" {
  effect     = "allow"
  profiles   = ["app"]
  principals = ["*"]
  users      = ["*@example.com"]
}

rule "approver-users" {
  effect         = "require_approval"
  profiles       = ["db-admin"]
  principals     = ["*"]
  approvers      = ["*"]
  approver_users = ["*@example.com"]
}
`)}),
		},
		{
			name: "users with trusted_session_roles",
			files: withProfiles(map[string]string{"main.hcl": src(`
settings {
  trusted_session_roles = ["arn:aws:iam::111122223333:role/AWSReservedSSO_*"]
}

rule "users" {
  effect     = "allow"
  profiles   = ["app"]
  principals = ["*"]
  users      = ["*@example.com"]
}
`)}),
		},
		{
			name: "session ARN and role path in principals globs",
			want: []string{
				"main.hcl:2:15: warning: Session ARN in principal glob: \"arn:aws:sts::111122223333:assumed-role/security/*\" will never match: a role session's principal ARN is its role's, \"arn:aws:iam::ACCOUNT:role/NAME\".",
				"main.hcl:8:16: warning: Role path in principal glob: \"arn:aws:iam::111122223333:role/team/dev-*\" will never match a role session: the request context names the role without its path.",
			},
			files: withProfiles(map[string]string{"main.hcl": src(`
settings {
  operators = ["arn:aws:sts::111122223333:assumed-role/security/*"]
}

rule "r" {
  effect     = "allow"
  profiles   = ["app"]
  principals = ["arn:aws:iam::111122223333:role/team/dev-*", "arn:aws:iam::111122223333:user/ops/*"]
}
`)}),
		},
	})
}

func TestCompileReportsEverythingInOnePass(t *testing.T) {
	files := map[string]string{
		"a.hcl": src(`
profile "app" {
  role_arn     = "arn:aws:iam::111122223333:user/app"
  max_duration = "2h"
}
`),
		"b.hcl": src(`
rule "r" {
  effect     = "alow"
  profiles   = ["ap"]
  principals = ["*"]
  source_ips = ["10.0.0.1/8"]
}
`),
		"c.hcl": src(`
settings {
  default_duration = "forever"
}

bogus {
}
`),
		"d.test.hcl": src(`
test "t" {
  principal = "alice"
}
`),
	}
	want := []string{
		"a.hcl:2:18: Invalid role ARN: role_arn \"arn:aws:iam::111122223333:user/app\" is not an IAM role ARN such as \"arn:aws:iam::111122223333:role/NAME\".",
		"a.hcl:3:18: Duration too long: \"max_duration\" is 2h; sessions last at most 1h (STS role chaining).",
		"b.hcl:2:16: Invalid effect: effect must be one of \"allow\", \"deny\", \"require_approval\"; got \"alow\". Did you mean \"allow\"?",
		"b.hcl:3:16: Profile glob matches no profile: \"ap\" matches none of the profiles (app). Did you mean \"app\"?",
		"b.hcl:5:16: Invalid CIDR: \"10.0.0.1/8\" has host bits set. Did you mean \"10.0.0.0/8\"?",
		"c.hcl:2:22: Invalid duration: \"default_duration\" must be a duration such as \"15m\" or \"1h\" (Go duration syntax); \"forever\" does not parse.",
		"c.hcl:5:1: Unsupported block type: Blocks of type \"bogus\" are not expected here.",
		"d.test.hcl:1:10: Missing required argument: The argument \"profile\" is required, but no definition was found.",
		"d.test.hcl:1:10: Missing required argument: The argument \"expect\" is required, but no definition was found.",
		"d.test.hcl:2:15: Invalid principal: \"alice\" is not an IAM or STS principal ARN; use a caller ARN as the request context shows it, e.g. \"arn:aws:sts::111122223333:assumed-role/ROLE/SESSION\".",
	}
	names := sortedKeys(files)
	for _, order := range [][]string{names, {names[3], names[2], names[1], names[0]}, {names[2], names[0], names[3], names[1]}} {
		var srcs []Source
		for _, n := range order {
			srcs = append(srcs, Source{Name: n, Data: []byte(files[n])})
		}
		c, diags := Compile(srcs)
		if c != nil {
			t.Errorf("order %q: Compile returned a result with errors", order)
		}
		var got []string
		for _, d := range diags {
			got = append(got, FormatDiagnostic(d))
		}
		checkDiags(t, got, want)
	}
}

// allowAppHCL allows everyone the app profile.
var allowAppHCL = src(`
rule "everyone-app" {
  effect     = "allow"
  profiles   = ["app"]
  principals = ["*"]
}

break_glass "oncall" {
  profiles     = ["db-*"]
  principals   = ["*"]
  reason_codes = ["incident"]
}
`)

func TestCompileTestFiles(t *testing.T) {
	runCompileCases(t, []compileCase{
		{
			name: "bad values",
			want: []string{
				"rules.test.hcl:4:15: Invalid expect: expect must be one of \"allow\", \"deny\", \"require_approval\"; got \"alow\". Did you mean \"allow\"?",
				"rules.test.hcl:11:17: Unknown rule: No rule or break_glass block is named \"everyone-ap\" (and it is not \"default-deny\"). Did you mean \"everyone-app\"?",
				"rules.test.hcl:15:15: Invalid principal: \"arn:aws:iam::111122223333:role/alice\" is not a user, role session, federated user or root ARN; use a caller ARN as the request context shows it, e.g. \"arn:aws:sts::111122223333:assumed-role/ROLE/SESSION\".",
				"rules.test.hcl:21:15: Invalid principal: \"alice\" is not an IAM or STS principal ARN; use a caller ARN as the request context shows it, e.g. \"arn:aws:sts::111122223333:assumed-role/ROLE/SESSION\".",
				"rules.test.hcl:29:15: Invalid time: \"2026-03-02 10:00\" is not an RFC 3339 time such as \"2026-03-02T10:00:00+01:00\".",
				"rules.test.hcl:35:15: warning: Unknown profile: The policy has no profile \"ap\", so this case is denied. Did you mean \"app\"?",
				"rules.test.hcl:42:21: Invalid source_ip: \"10.0.0.0/8\" is not an IP address.",
				"rules.test.hcl:43:21: Invalid duration: \"duration\" must be a duration such as \"15m\" or \"1h\" (Go duration syntax); \"20 minutes\" does not parse.",
				"rules.test.hcl:44:21: Duration too long: \"expect_duration\" is 2h; sessions last at most 1h (STS role chaining).",
				"rules.test.hcl:45:21: Incorrect attribute value type: Inappropriate value for attribute \"break_glass\": bool required.",
			},
			files: withProfiles(map[string]string{"rules.hcl": allowAppHCL, "rules.test.hcl": src(`
test "bad expect" {
  principal = "arn:aws:iam::111122223333:user/alice"
  profile   = "app"
  expect    = "alow"
}

test "unknown expect_rule" {
  principal   = "arn:aws:iam::111122223333:user/alice"
  profile     = "app"
  expect      = "allow"
  expect_rule = "everyone-ap"
}

test "invalid principal" {
  principal = "arn:aws:iam::111122223333:role/alice"
  profile   = "app"
  expect    = "deny"
}

test "not an ARN" {
  principal = "alice"
  profile   = "app"
  expect    = "deny"
}

test "invalid time" {
  principal = "arn:aws:iam::111122223333:user/alice"
  profile   = "app"
  time      = "2026-03-02 10:00"
  expect    = "allow"
}

test "unknown profile" {
  principal = "arn:aws:iam::111122223333:user/alice"
  profile   = "ap"
  expect    = "deny"
}

test "other values" {
  principal       = "arn:aws:iam::111122223333:user/alice"
  profile         = "app"
  source_ip       = "10.0.0.0/8"
  duration        = "20 minutes"
  expect_duration = "2h"
  break_glass     = "yes"
  expect          = "allow"
}
`)}),
		},
		{
			name: "structure",
			want: []string{
				"a.test.hcl:7:1: Unsupported block type: Blocks of type \"tset\" are not expected here. Did you mean \"test\"?",
				"a.test.hcl:10:16: Missing required argument: The argument \"principal\" is required, but no definition was found.",
				"a.test.hcl:10:16: Missing required argument: The argument \"profile\" is required, but no definition was found.",
				"a.test.hcl:10:16: Missing required argument: The argument \"expect\" is required, but no definition was found.",
				"a.test.hcl:11:3: Unsupported argument: An argument named \"expected\" is not expected here. Did you mean \"expect\"?",
				"b.test.hcl:1:6: Duplicate test: A test named \"same\" was already defined at a.test.hcl:1.",
				"b.test.hcl:7:1: Policy block in a test file: rule blocks belong in policy files; files ending in \".test.hcl\" hold only test blocks.",
			},
			files: withProfiles(map[string]string{"rules.hcl": allowAppHCL,
				"a.test.hcl": src(`
test "same" {
  principal = "arn:aws:iam::111122223333:user/alice"
  profile   = "app"
  expect    = "allow"
}

tset "typo" {
}

test "missing" {
  expected = "allow"
}
`),
				"b.test.hcl": src(`
test "same" {
  principal = "arn:aws:iam::111122223333:user/alice"
  profile   = "app"
  expect    = "allow"
}

rule "in-a-test-file" {
  effect     = "allow"
  profiles   = ["app"]
  principals = ["*"]
}
`)}),
		},
		{
			name: "expect_rule names rules, break_glass blocks and default-deny",
			files: withProfiles(map[string]string{"rules.hcl": allowAppHCL, "rules.test.hcl": src(`
test "rule" {
  principal   = "arn:aws:iam::111122223333:user/alice"
  profile     = "app"
  expect      = "allow"
  expect_rule = "everyone-app"
}

test "break glass" {
  principal   = "arn:aws:iam::111122223333:user/alice"
  profile     = "db-admin"
  break_glass = true
  expect      = "allow"
  expect_rule = "oncall"
}

test "default deny" {
  principal   = "arn:aws:iam::111122223333:user/alice"
  profile     = "db-admin"
  expect      = "deny"
  expect_rule = "default-deny"
}
`)}),
		},
	})
}

func TestCompileNoPolicy(t *testing.T) {
	runCompileCases(t, []compileCase{
		{
			name: "no files",
			want: []string{
				"No policy: No policy files (*.hcl other than *.test.hcl): with no policy, no credentials are vended.",
			},
		},
		{
			name: "only test files",
			want: []string{
				"No policy: No policy files (*.hcl other than *.test.hcl): with no policy, no credentials are vended.",
			},
			files: map[string]string{"a.test.hcl": src(`
test "t" {
  principal = "arn:aws:iam::111122223333:user/alice"
  profile   = "app"
  expect    = "deny"
}
`)},
		},
		{
			name: "no profiles",
			want: []string{
				"No profiles: The policy defines no profile block, so it could never vend credentials.",
			},
			files: map[string]string{"main.hcl": src(`
settings {
  max_duration = "1h"
}
`)},
		},
		{
			name: "no profiles, with a rule",
			want: []string{
				"No profiles: The policy defines no profile block, so it could never vend credentials.",
			},
			files: map[string]string{"main.hcl": src(`
rule "r" {
  effect     = "allow"
  profiles   = ["app"]
  principals = ["*"]
}
`)},
		},
	})
}

func TestCompileSchedules(t *testing.T) {
	files := withProfiles(map[string]string{"main.hcl": src(`
rule "evening" {
  effect     = "allow"
  profiles   = ["app"]
  principals = ["*"]
  schedule {
    hours = "18:00-24:00"
  }
}

rule "night" {
  effect     = "allow"
  profiles   = ["app"]
  principals = ["*"]
  schedule {
    days     = ["sun", "mon", "mon"]
    hours    = "22:00-06:00"
    timezone = "Europe/Berlin"
  }
}

rule "until-midnight" {
  effect     = "allow"
  profiles   = ["app"]
  principals = ["*"]
  schedule {
    hours = "20:00-00:00"
  }
}
`)})
	c, got := compileFiles(t, files)
	checkDiags(t, got, nil)
	if c == nil {
		t.FailNow()
	}
	all := []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"}
	for _, tc := range []struct {
		rule string
		want BundleSchedule
	}{
		{"evening", BundleSchedule{Days: all, Start: 18 * 60, End: 1440, Timezone: "UTC"}},
		{"night", BundleSchedule{Days: []string{"mon", "sun"}, Start: 22 * 60, End: 6 * 60, Timezone: "Europe/Berlin"}},
		{"until-midnight", BundleSchedule{Days: all, Start: 20 * 60, End: 1440, Timezone: "UTC"}},
	} {
		r, ok := c.Policy.Rule(tc.rule)
		if !ok || r.Schedule == nil {
			t.Errorf("rule %q: no schedule", tc.rule)
			continue
		}
		if !reflect.DeepEqual(*r.Schedule, tc.want) {
			t.Errorf("rule %q: schedule %+v, want %+v", tc.rule, *r.Schedule, tc.want)
		}
	}
}

func TestCompileSettingsDefaults(t *testing.T) {
	for _, tc := range []struct {
		name     string
		settings string
		want     BundleSettings
		diags    []string
	}{
		{"none", "", BundleSettings{DefaultDuration: 900, MaxDuration: 3600, Operators: []string{}, TrustedSessionRoles: []string{}}, nil},
		{"empty block", "settings {\n}\n", BundleSettings{DefaultDuration: 900, MaxDuration: 3600, Operators: []string{}, TrustedSessionRoles: []string{}}, nil},
		{
			"max below the default default", "settings {\n  max_duration = \"10m\"\n}\n",
			BundleSettings{DefaultDuration: 600, MaxDuration: 600, Operators: []string{}, TrustedSessionRoles: []string{}},
			[]string{"settings.hcl:2:18: Duration below the STS minimum: \"max_duration\" is 10m, but STS issues sessions of 15m at least: a session under this block could never be vended. Use 15m or more."},
		},
		{"default only", "settings {\n  default_duration = \"1h\"\n}\n", BundleSettings{DefaultDuration: 3600, MaxDuration: 3600, Operators: []string{}, TrustedSessionRoles: []string{}}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			files := withProfiles(nil)
			if tc.settings != "" {
				files["settings.hcl"] = tc.settings
			}
			c, got := compileFiles(t, files)
			checkDiags(t, got, tc.diags)
			if c == nil {
				return
			}
			if s := c.Policy.Settings(); !reflect.DeepEqual(s, tc.want) {
				t.Errorf("settings %+v, want %+v", s, tc.want)
			}
		})
	}
}

// examplePolicy reads the repository's example policy.
func examplePolicy(t *testing.T) []Source {
	t.Helper()
	srcs, err := ReadDir(filepath.Join("..", "..", "policies"))
	if err != nil {
		t.Fatal(err)
	}
	if len(srcs) == 0 {
		t.Fatal("no example policy files")
	}
	return srcs
}

func TestCompileExamplePolicy(t *testing.T) {
	srcs := examplePolicy(t)
	c, diags := Compile(srcs)
	for _, d := range diags {
		t.Errorf("%s", FormatDiagnostic(d))
	}
	if c == nil {
		t.FailNow()
	}
	blocks := 0
	for _, s := range srcs {
		if IsTestFile(s.Name) {
			blocks += bytes.Count(s.Data, []byte("\ntest \"")) + bytes.Count(s.Data[:min(len(s.Data), 6)], []byte("test \""))
		}
	}
	if len(c.Tests) != blocks || blocks == 0 {
		t.Errorf("%d test cases decoded, the files hold %d", len(c.Tests), blocks)
	}
	for _, r := range c.Policy.RunTests(c.Tests) {
		if r.Failure != "" {
			t.Errorf("%s", r)
		}
	}
	if c.SHA256 != SHA256Hex(c.Bundle) || c.SHA256 != c.Policy.SHA256() {
		t.Errorf("SHA256 %s, Policy.SHA256 %s, sha256 of the bundle %s", c.SHA256, c.Policy.SHA256(), SHA256Hex(c.Bundle))
	}
	wantProfiles := []string{"analytics-readonly", "ci-deploy", "prod-admin", "prod-readonly"}
	if !reflect.DeepEqual(c.Profiles, wantProfiles) {
		t.Errorf("Profiles %q, want %q", c.Profiles, wantProfiles)
	}
	wantRoles := []string{
		"arn:aws:iam::111122223333:role/sentinel/analytics-readonly",
		"arn:aws:iam::111122223333:role/sentinel/ci-deploy",
		"arn:aws:iam::444455556666:role/sentinel/prod-admin",
		"arn:aws:iam::444455556666:role/sentinel/prod-readonly",
	}
	if !reflect.DeepEqual(c.RoleARNs, wantRoles) {
		t.Errorf("RoleARNs %q, want %q", c.RoleARNs, wantRoles)
	}
}

func TestCompileDeterministic(t *testing.T) {
	srcs := examplePolicy(t)
	first, diags := Compile(srcs)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	// The same contents under other names, in reverse order, in another
	// directory.
	renamed := make([]Source, len(srcs))
	for i, s := range srcs {
		base := filepath.Base(s.Name)
		name := "elsewhere/zz-" + strconv.Itoa(i) + "-" + strings.TrimSuffix(base, ".hcl") + "-renamed.hcl"
		if IsTestFile(base) {
			name = "elsewhere/zz-" + strconv.Itoa(i) + TestSuffix
		}
		renamed[len(srcs)-1-i] = Source{Name: name, Data: s.Data}
	}
	// And every policy file merged into one, in reverse order.
	var merged []byte
	for i := len(srcs) - 1; i >= 0; i-- {
		if !IsTestFile(srcs[i].Name) {
			merged = append(append(merged, srcs[i].Data...), '\n')
		}
	}
	for _, variant := range [][]Source{renamed, {{Name: "one.hcl", Data: merged}}} {
		c, diags := Compile(variant)
		if diags.HasErrors() {
			t.Fatal(diags)
		}
		if !bytes.Equal(c.Bundle, first.Bundle) {
			t.Errorf("bundles differ:\n%s\n%s", first.Bundle, c.Bundle)
		}
		if c.SHA256 != first.SHA256 {
			t.Errorf("sha256 %s, want %s", c.SHA256, first.SHA256)
		}
		if !reflect.DeepEqual(c.RoleARNs, first.RoleARNs) || !reflect.DeepEqual(c.Profiles, first.Profiles) {
			t.Errorf("role ARNs or profiles differ")
		}
		for _, s := range variant {
			if bytes.Contains(c.Bundle, []byte(filepath.Base(s.Name))) {
				t.Errorf("the bundle contains the file name %q", s.Name)
			}
		}
	}
	for _, s := range srcs {
		for _, n := range []string{filepath.Base(s.Name), "policies/", ".hcl"} {
			if bytes.Contains(first.Bundle, []byte(n)) {
				t.Errorf("the bundle contains %q", n)
			}
		}
	}
	if sum := sha256.Sum256(first.Bundle); first.SHA256 != hex.EncodeToString(sum[:]) {
		t.Errorf("SHA256 %s is not the sha256 of the bundle", first.SHA256)
	}
	var b Bundle
	if err := json.Unmarshal(first.Bundle, &b); err != nil {
		t.Fatal(err)
	}
	for _, names := range [][]string{names(b.Profiles, func(p BundleProfile) string { return p.Name }),
		names(b.Rules, func(r BundleRule) string { return r.Name }),
		names(b.BreakGlass, func(g BundleBreakGlass) string { return g.Name })} {
		if !sort.StringsAreSorted(names) {
			t.Errorf("blocks not sorted by name: %q", names)
		}
	}
}

func names[T any](l []T, name func(T) string) []string {
	var out []string
	for _, v := range l {
		out = append(out, name(v))
	}
	return out
}

func TestCompileRoleARNsAndProfiles(t *testing.T) {
	c, got := compileFiles(t, map[string]string{"main.hcl": src(`
profile "zeta" {
  role_arn = "arn:aws:iam::222233334444:role/shared"
}

profile "alpha" {
  role_arn = "arn:aws:iam::111122223333:role/b"
}

profile "mid" {
  role_arn = "arn:aws:iam::222233334444:role/shared"
}

profile "Beta" {
  role_arn = "arn:aws:iam::111122223333:role/a"
}
`)})
	checkDiags(t, got, nil)
	if c == nil {
		t.FailNow()
	}
	wantRoles := []string{
		"arn:aws:iam::111122223333:role/a",
		"arn:aws:iam::111122223333:role/b",
		"arn:aws:iam::222233334444:role/shared",
	}
	if !reflect.DeepEqual(c.RoleARNs, wantRoles) {
		t.Errorf("RoleARNs %q, want %q", c.RoleARNs, wantRoles)
	}
	if want := []string{"Beta", "alpha", "mid", "zeta"}; !reflect.DeepEqual(c.Profiles, want) {
		t.Errorf("Profiles %q, want %q", c.Profiles, want)
	}
}

func TestLoadRefusesTamperedBundles(t *testing.T) {
	c, diags := Compile(examplePolicy(t))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	if _, err := Load(c.Bundle); err != nil {
		t.Fatalf("the compiled bundle does not load: %v", err)
	}
	// edit changes the decoded bundle and encodes it again.
	edit := func(f func(b *Bundle)) []byte {
		var b Bundle
		if err := json.Unmarshal(c.Bundle, &b); err != nil {
			t.Fatal(err)
		}
		f(&b)
		js, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		return js
	}
	rule := func(b *Bundle, name string) *BundleRule {
		for i := range b.Rules {
			if b.Rules[i].Name == name {
				return &b.Rules[i]
			}
		}
		t.Fatalf("no rule %q", name)
		return nil
	}
	for _, tc := range []struct {
		name   string
		bundle []byte
		want   string
	}{
		{name: "unknown field", bundle: bytes.Replace(c.Bundle, []byte(`"format":`), []byte(`"extra":1,"format":`), 1),
			want: `policy bundle: json: unknown field "extra"`},
		{name: "unknown nested field", bundle: bytes.Replace(c.Bundle, []byte(`"effect":`), []byte(`"priority":1,"effect":`), 1),
			want: `policy bundle: json: unknown field "priority"`},
		{name: "wrong format", bundle: edit(func(b *Bundle) { b.Format = "sentinel-tvm/policy-bundle/v2" }),
			want: `policy bundle: format "sentinel-tvm/policy-bundle/v2", want "sentinel-tvm/policy-bundle/v1"`},
		{name: "no format", bundle: []byte(`{}`),
			want: `policy bundle: format "", want "sentinel-tvm/policy-bundle/v1"`},
		{name: "invalid condition", bundle: edit(func(b *Bundle) { rule(b, "ci-deploys-from-runners").Condition = "principal.name ==" }),
			want: `policy bundle: rule "ci-deploys-from-runners": condition: invalid expression in bundle: `},
		{name: "condition with another variable", bundle: edit(func(b *Bundle) { rule(b, "ci-deploys-from-runners").Condition = "var.x" }),
			want: `policy bundle: rule "ci-deploys-from-runners": condition: `},
		{name: "invalid session policy", bundle: edit(func(b *Bundle) { b.Profiles[0].SessionPolicy = "{" }),
			want: `policy bundle: profile "analytics-readonly": session_policy: invalid expression in bundle: `},
		{name: "unknown effect", bundle: edit(func(b *Bundle) { rule(b, "no-nightly-deploys").Effect = "permit" }),
			want: `policy bundle: rule "no-nightly-deploys": unknown effect "permit"`},
		{name: "bad timezone", bundle: edit(func(b *Bundle) { rule(b, "no-nightly-deploys").Schedule.Timezone = "Mars/Base" }),
			want: `policy bundle: rule "no-nightly-deploys": schedule: `},
		{name: "max duration above 1h", bundle: edit(func(b *Bundle) { b.Settings.MaxDuration = 7200 }),
			want: `policy bundle: settings: max_duration_seconds 7200 out of range`},
		{name: "trailing data", bundle: append(append([]byte(nil), c.Bundle...), "x"...),
			want: `policy bundle: trailing data after the JSON document`},
		{name: "second document", bundle: append(append([]byte(nil), c.Bundle...), c.Bundle...),
			want: `policy bundle: trailing data after the JSON document`},
		{name: "trailing brace", bundle: append(append([]byte(nil), c.Bundle...), '}'),
			want: `policy bundle: trailing data after the JSON document`},
		{name: "truncated", bundle: c.Bundle[:len(c.Bundle)/2], want: `policy bundle: unexpected EOF`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Load(tc.bundle)
			if err == nil {
				t.Fatalf("Load accepted the bundle (sha256 %s)", p.SHA256())
			}
			if !strings.HasPrefix(err.Error(), tc.want) {
				t.Errorf("error %q, want it to start with %q", err, tc.want)
			}
		})
	}
}

func TestFormat(t *testing.T) {
	messy := src(`
# comment stays
rule "r" {
effect = "allow"
    profiles = ["app"]
  principals=["*"]
  schedule {
  days = ["mon"]
      hours    =     "08:00-18:00"
  }
}`)
	want := src(`
# comment stays
rule "r" {
  effect     = "allow"
  profiles   = ["app"]
  principals = ["*"]
  schedule {
    days  = ["mon"]
    hours = "08:00-18:00"
  }
}
`)
	out, diags := Format(Source{Name: "messy.hcl", Data: []byte(messy)})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	if string(out) != want {
		t.Errorf("Format:\n%s\nwant:\n%s", out, want)
	}
	again, _ := Format(Source{Name: "messy.hcl", Data: out})
	if !bytes.Equal(again, out) {
		t.Errorf("Format is not idempotent:\n%s\nthen:\n%s", out, again)
	}
	for _, s := range examplePolicy(t) {
		out, diags := Format(s)
		if diags.HasErrors() {
			t.Errorf("%s: %s", s.Name, diags)
		}
		if !bytes.Equal(out, s.Data) {
			t.Errorf("%s is not canonically formatted:\n%s", s.Name, out)
		}
	}
	var got []string
	_, diags = Format(Source{Name: "broken.hcl", Data: []byte("rule \"r\" {\n")})
	for _, d := range diags {
		got = append(got, FormatDiagnostic(d))
	}
	checkDiags(t, got, []string{
		"broken.hcl:1:10: Unclosed configuration block: There is no closing brace for this block before the end of the file. This may be caused by incorrect brace nesting elsewhere in this file.",
	})
}
