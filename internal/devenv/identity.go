package devenv

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/sentinel-tvm/sentinel-tvm/internal/policy"
)

// NamedCaller is one dev identity to issue (a `sentinel-tvm dev --identity`):
// a name (the section of the credentials file) and the caller ARN API
// Gateway will report for it.
type NamedCaller struct {
	Name      string // e.g. alice
	CallerARN string // arn:aws:sts::111122223333:assumed-role/engineer-dev/alice or arn:aws:iam::111122223333:user/bob
}

// Issued is a dev identity with the emulator credentials issued for it.
type Issued struct {
	Name            string
	CallerARN       string
	AccountID       string
	UserID          string    // requestContext.identity.caller: AROA...:session or the user's unique ID
	AccessKeyID     string    // valid against the emulator
	SecretAccessKey string    // never logged
	SessionToken    string    // empty for an IAM user's long-term key
	Expires         time.Time // zero for long-term keys
}

var (
	identityNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.@+-]{0,63}$`)
	iamNameRE      = regexp.MustCompile(`^[\w+=,.@-]{1,64}$`)
	sessionNameRE  = regexp.MustCompile(`^[\w+=,.@-]{2,64}$`)
	iamPathRE      = regexp.MustCompile(`^/([\x21-\x7E]{0,510}/)?$`)
)

// ParseNamedCaller parses the NAME=CALLER_ARN form of `sentinel-tvm dev
// --identity`.
func ParseNamedCaller(s string) (NamedCaller, error) {
	name, arn, ok := strings.Cut(s, "=")
	if !ok {
		return NamedCaller{}, fmt.Errorf("identity %q is not NAME=CALLER_ARN", s)
	}
	id := NamedCaller{Name: strings.TrimSpace(name), CallerARN: strings.TrimSpace(arn)}
	if _, err := id.parse(); err != nil {
		return NamedCaller{}, err
	}
	return id, nil
}

// caller is a caller ARN taken apart into what the emulator needs.
type caller struct {
	principal policy.Principal
	partition string
	path      string // IAM user path, "/" when none
}

// parse checks the identity: a name fit for an INI section and AWS CLI
// profile, and a caller ARN the emulator can issue credentials for (an
// assumed role session or an IAM user).
func (id NamedCaller) parse() (caller, error) {
	if !identityNameRE.MatchString(id.Name) {
		return caller{}, fmt.Errorf("identity name %q is not 1-64 characters of [A-Za-z0-9_.@+-] starting with a letter or digit", id.Name)
	}
	p, err := policy.ParseCaller(id.CallerARN)
	if err != nil {
		return caller{}, fmt.Errorf("identity %s: %v", id.Name, err)
	}
	c := caller{principal: p, partition: strings.SplitN(id.CallerARN, ":", 3)[1], path: "/"}
	if c.partition != "aws" {
		return caller{}, fmt.Errorf("identity %s: partition %q: local mode emulates the aws partition only", id.Name, c.partition)
	}
	switch p.Type {
	case policy.TypeAssumedRole:
		if !iamNameRE.MatchString(p.Name) {
			return caller{}, fmt.Errorf("identity %s: role name %q is not 1-64 characters of [\\w+=,.@-]", id.Name, p.Name)
		}
		if !sessionNameRE.MatchString(p.SessionName) {
			return caller{}, fmt.Errorf("identity %s: session name %q is not 2-64 characters of [\\w+=,.@-]", id.Name, p.SessionName)
		}
	case policy.TypeUser:
		resource := strings.SplitN(id.CallerARN, ":", 6)[5]
		path := resource[len("user") : len(resource)-len(p.Name)]
		if !iamNameRE.MatchString(p.Name) || !iamPathRE.MatchString(path) {
			return caller{}, fmt.Errorf("identity %s: %q is not a valid IAM user path and name", id.Name, resource)
		}
		c.path = path
	default:
		// The emulator's federation tokens are one fixed key for everyone,
		// and it has no root credentials to hand out.
		return caller{}, fmt.Errorf("identity %s: %s is a %s; local mode issues assumed-role sessions (arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION) and IAM users (arn:aws:iam::ACCOUNT:user/NAME)", id.Name, id.CallerARN, p.Type)
	}
	return c, nil
}

// checkIdentities parses every identity and rejects repeated names and
// caller ARNs (an IAM user's keys are replaced on each Provision).
func checkIdentities(ids []NamedCaller) ([]caller, error) {
	names, arns := map[string]bool{}, map[string]bool{}
	out := make([]caller, 0, len(ids))
	for _, id := range ids {
		c, err := id.parse()
		if err != nil {
			return nil, err
		}
		if names[strings.ToLower(id.Name)] {
			return nil, fmt.Errorf("identity name %q is given twice", id.Name)
		}
		if arns[id.CallerARN] {
			return nil, fmt.Errorf("caller ARN %s is given twice", id.CallerARN)
		}
		names[strings.ToLower(id.Name)], arns[id.CallerARN] = true, true
		out = append(out, c)
	}
	return out, nil
}

// WriteCredentialsFile writes ids as an AWS shared-credentials file, one
// [NAME] section each, readable by its owner only (0600). It replaces the
// file atomically, so a reader never sees half of it.
func WriteCredentialsFile(path string, ids []Issued) error {
	var b bytes.Buffer
	b.WriteString("# Emulator credentials written by `sentinel-tvm dev`; they work against the local\n# service and the AWS emulator only.\n")
	for _, id := range ids {
		fmt.Fprintf(&b, "\n[%s]\naws_access_key_id = %s\naws_secret_access_key = %s\n", id.Name, id.AccessKeyID, id.SecretAccessKey)
		if id.SessionToken != "" {
			fmt.Fprintf(&b, "aws_session_token = %s\n", id.SessionToken)
		}
	}
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("write credentials file: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // no-op after the rename
	// CreateTemp makes the file 0600; Chmod says so explicitly.
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return fmt.Errorf("write credentials file: %w", err)
	}
	if _, err := f.Write(b.Bytes()); err != nil {
		f.Close()
		return fmt.Errorf("write credentials file: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write credentials file: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write credentials file: %w", err)
	}
	return nil
}
