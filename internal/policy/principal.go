package policy

import (
	"fmt"
	"strings"
)

// Principal types, as principal.type shows them.
const (
	TypeAssumedRole   = "assumed-role"
	TypeUser          = "user"
	TypeFederatedUser = "federated-user"
	TypeRoot          = "root"
)

// Principal is the caller as the policy sees it. It is derived from the API
// Gateway IAM authorization context (never from anything the caller says
// about itself), see ParseCaller.
type Principal struct {
	ARN         string // principal ARN matched by `principals` (a role ARN for role sessions)
	CallerARN   string // the ARN from the request context
	Type        string // assumed-role, user, federated-user or root
	AccountID   string
	Name        string // role, user or federated user name
	SessionName string // role session name: recorded, never trusted
	User        string // SessionName when the role is a trusted session role, else ""
	UserID      string // unique ID from the request context, e.g. AROAEXAMPLE:alice
	OrgID       string // organization ID, or ""
}

// Identity is the key of the principal's own records: the principal ARN
// plus the trusted user, if any. Two sessions of one untrusted role share
// it. One person signed in through two trusted roles has two identities
// but is one Person.
func (p Principal) Identity() string {
	if p.User == "" {
		return p.ARN
	}
	return p.ARN + "#" + p.User
}

// PersonPrefix starts the Person of a trusted user (store.Person derives
// the same from a stored identity).
const PersonPrefix = "user:"

// Person names the human behind the principal, for every check of "the
// same person" (self-approval, distinct approvers, own requests, sessions
// and events, rate limits): the trusted user name when the caller comes from
// a trusted session role, whichever role and account that is; otherwise the
// principal ARN (every session of an untrusted role is one person).
func (p Principal) Person() string {
	if p.User == "" {
		return p.ARN
	}
	return PersonPrefix + p.User
}

// ParseCaller derives the principal from a caller ARN as API Gateway puts it
// in requestContext.identity.userArn. It does not set User: that needs the
// policy's trusted_session_roles (see Policy.Principal).
//
//	arn:aws:sts::111122223333:assumed-role/engineer-dev/alice -> arn:aws:iam::111122223333:role/engineer-dev
//	arn:aws:iam::111122223333:user/path/alice                 -> itself
//	arn:aws:sts::111122223333:federated-user/bob               -> itself
//	arn:aws:iam::111122223333:root                            -> itself
func ParseCaller(callerARN string) (Principal, error) {
	parts := strings.SplitN(callerARN, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[1] == "" || parts[3] != "" {
		return Principal{}, fmt.Errorf("%q is not an IAM or STS principal ARN", callerARN)
	}
	partition, service, account, resource := parts[1], parts[2], parts[4], parts[5]
	if !isAccountID(account) {
		return Principal{}, fmt.Errorf("%q does not name a 12-digit account", callerARN)
	}
	p := Principal{CallerARN: callerARN, AccountID: account}
	switch {
	case service == "sts" && strings.HasPrefix(resource, "assumed-role/"):
		role, session, ok := strings.Cut(strings.TrimPrefix(resource, "assumed-role/"), "/")
		if !ok || role == "" || session == "" || strings.Contains(session, "/") {
			return Principal{}, fmt.Errorf("%q is not an assumed-role ARN (assumed-role/ROLE/SESSION)", callerARN)
		}
		p.Type, p.Name, p.SessionName = TypeAssumedRole, role, session
		p.ARN = "arn:" + partition + ":iam::" + account + ":role/" + role
	case service == "sts" && strings.HasPrefix(resource, "federated-user/"):
		p.Type, p.Name = TypeFederatedUser, strings.TrimPrefix(resource, "federated-user/")
		p.ARN = callerARN
	case service == "iam" && strings.HasPrefix(resource, "user/"):
		p.Type = TypeUser
		p.Name = resource[strings.LastIndexByte(resource, '/')+1:]
		p.ARN = callerARN
	case service == "iam" && resource == "root":
		p.Type, p.Name, p.ARN = TypeRoot, "root", callerARN
	default:
		return Principal{}, fmt.Errorf("%q is not a user, role session, federated user or root ARN", callerARN)
	}
	if p.Name == "" {
		return Principal{}, fmt.Errorf("%q has an empty name", callerARN)
	}
	return p, nil
}

func isAccountID(s string) bool {
	if len(s) != 12 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
