package vend

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Config is the service's configuration, read from the environment by
// ConfigFromEnv and checked at start (a misconfigured function must fail
// its init, not its first request).
type Config struct {
	TableName       string        // SENTINEL_TABLE_NAME (required)
	PolicyParameter string        // SENTINEL_POLICY_PARAMETER: SSM SecureString holding the bundle, optionally name:version (required)
	PolicySHA256    string        // SENTINEL_POLICY_SHA256: the bundle's expected sha256, hex (required)
	PolicyCacheTTL  time.Duration // SENTINEL_POLICY_CACHE_TTL (default 60s, 1s to 15m)

	RateLimit      int           // SENTINEL_RATE_LIMIT: requests per window per principal (default 30)
	RateWindow     time.Duration // SENTINEL_RATE_WINDOW (default 1m, 1s to 24h)
	RatePerProfile bool          // SENTINEL_RATE_PER_PROFILE: separate windows per profile (default false)
	// OwnerRevokeLimit bounds the revocations one person makes of their own
	// sessions per hour (operators are not limited), so nobody can fill a
	// role's revocation policy and force the role-wide cut-off alone.
	OwnerRevokeLimit int // SENTINEL_OWNER_REVOKE_LIMIT (default 10, 1 to 1000)

	Retention      time.Duration // SENTINEL_RETENTION: how long records outlive credentials (default 2160h = 90 days)
	ApprovalTTL    time.Duration // SENTINEL_APPROVAL_TTL: pending approvals expire after (default 24h)
	ApprovalWindow time.Duration // SENTINEL_APPROVAL_WINDOW: an approval is good for one vend within (default 1h)

	// RevokerFunction is the revoker Lambda function (name or ARN) that
	// writes revocations into IAM; empty: revocation answers 503.
	RevokerFunction string // SENTINEL_REVOKER_FUNCTION
	// NotifyTopicARN is the SNS topic for state changes; empty: none.
	NotifyTopicARN string // SENTINEL_NOTIFY_TOPIC_ARN

	Version string // SENTINEL_VERSION: reported by /v1/health (default "dev")
}

// Defaults.
const (
	DefaultPolicyCacheTTL = time.Minute
	DefaultRateLimit      = 30
	DefaultRateWindow     = time.Minute
	// DefaultOwnerRevokeLimit: own-session revocations per person and hour.
	DefaultOwnerRevokeLimit = 10
	// OwnerRevokeWindow is the window of OwnerRevokeLimit.
	OwnerRevokeWindow     = time.Hour
	DefaultRetention      = 90 * 24 * time.Hour
	DefaultApprovalTTL    = 24 * time.Hour
	DefaultApprovalWindow = time.Hour
)

var (
	sha256RE    = regexp.MustCompile(`^[0-9a-f]{64}$`)
	tableNameRE = regexp.MustCompile(`^[A-Za-z0-9_.-]{3,255}$`)
	// SSM allows names of up to 1011 characters; Go's regexp caps repeat
	// counts at 1000, so the length is checked apart (maxParamName).
	functionRE = regexp.MustCompile(`^(arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:function:)?[A-Za-z0-9_-]{1,64}(:[A-Za-z0-9_$-]{1,128})?$`)
	topicARNRE = regexp.MustCompile(`^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}(\.fifo)?$`)
	// An optional :version pins one version of the parameter (the module
	// pins the version its SENTINEL_POLICY_SHA256 describes).
	paramNameRE = regexp.MustCompile(`^(arn:aws[a-z-]*:ssm:[a-z0-9-]+:\d{12}:parameter)?(/?[A-Za-z0-9_.\-/]+)(:[1-9][0-9]{0,9})?$`)
)

// maxParamName is SSM's limit on a parameter name (the part after an ARN).
const maxParamName = 1011

// ConfigFromEnv reads and checks the configuration; getenv is os.Getenv in
// production. Every problem is reported, one per line.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	str := func(name string, required bool, re *regexp.Regexp, what string) string {
		v := strings.TrimSpace(getenv(name))
		switch {
		case v == "" && required:
			bad("%s is required (%s)", name, what)
		case v != "" && re != nil && !re.MatchString(v):
			bad("%s=%q is not %s", name, v, what)
		}
		return v
	}
	dur := func(name string, def, lo, hi time.Duration) time.Duration {
		v := strings.TrimSpace(getenv(name))
		if v == "" {
			return def
		}
		d, err := time.ParseDuration(v)
		if err != nil || d < lo || d > hi {
			bad("%s=%q is not a duration from %s to %s (Go syntax, e.g. 90s, 15m, 24h)", name, v, lo, hi)
			return def
		}
		return d
	}
	c := Config{
		TableName:        str("SENTINEL_TABLE_NAME", true, tableNameRE, "a DynamoDB table name"),
		PolicyParameter:  str("SENTINEL_POLICY_PARAMETER", true, paramNameRE, "an SSM parameter name, optionally with :version"),
		PolicySHA256:     str("SENTINEL_POLICY_SHA256", true, sha256RE, "a lowercase hex sha256"),
		PolicyCacheTTL:   dur("SENTINEL_POLICY_CACHE_TTL", DefaultPolicyCacheTTL, time.Second, 15*time.Minute),
		RateLimit:        DefaultRateLimit,
		OwnerRevokeLimit: DefaultOwnerRevokeLimit,
		RateWindow:       dur("SENTINEL_RATE_WINDOW", DefaultRateWindow, time.Second, 24*time.Hour),
		Retention:        dur("SENTINEL_RETENTION", DefaultRetention, time.Hour, 10*365*24*time.Hour),
		ApprovalTTL:      dur("SENTINEL_APPROVAL_TTL", DefaultApprovalTTL, time.Minute, 7*24*time.Hour),
		ApprovalWindow:   dur("SENTINEL_APPROVAL_WINDOW", DefaultApprovalWindow, time.Minute, 24*time.Hour),
		RevokerFunction:  str("SENTINEL_REVOKER_FUNCTION", false, functionRE, "a Lambda function name or ARN"),
		NotifyTopicARN:   str("SENTINEL_NOTIFY_TOPIC_ARN", false, topicARNRE, "an SNS topic ARN"),
		Version:          "dev",
	}
	// The store counts in whole-second windows and refuses any other, which
	// would fail every request: refuse it here, at start.
	if c.RateWindow%time.Second != 0 {
		bad("SENTINEL_RATE_WINDOW=%q is not a whole number of seconds (the rate-limit window is kept in seconds)", strings.TrimSpace(getenv("SENTINEL_RATE_WINDOW")))
		c.RateWindow = DefaultRateWindow
	}
	if m := paramNameRE.FindStringSubmatch(c.PolicyParameter); m != nil && len(m[2]) > maxParamName {
		bad("SENTINEL_POLICY_PARAMETER is %d characters long; SSM parameter names have at most %d", len(m[2]), maxParamName)
	}
	if v := strings.TrimSpace(getenv("SENTINEL_RATE_LIMIT")); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100000 {
			bad("SENTINEL_RATE_LIMIT=%q is not a whole number from 1 to 100000", v)
		} else {
			c.RateLimit = n
		}
	}
	if v := strings.TrimSpace(getenv("SENTINEL_OWNER_REVOKE_LIMIT")); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			bad("SENTINEL_OWNER_REVOKE_LIMIT=%q is not a whole number from 1 to 1000", v)
		} else {
			c.OwnerRevokeLimit = n
		}
	}
	if v := strings.TrimSpace(getenv("SENTINEL_RATE_PER_PROFILE")); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			bad("SENTINEL_RATE_PER_PROFILE=%q is not true or false", v)
		}
		c.RatePerProfile = b
	}
	if v := strings.TrimSpace(getenv("SENTINEL_VERSION")); v != "" {
		c.Version = v
	}
	if len(problems) > 0 {
		return Config{}, fmt.Errorf("configuration:\n  %s", strings.Join(problems, "\n  "))
	}
	return c, nil
}
