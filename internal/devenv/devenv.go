// Package devenv provisions the local environment of `sentinel-tvm dev` in
// moto, the AWS emulator: what Terraform creates in a real deployment (the
// KMS key, the DynamoDB table, the SSM SecureString holding the policy
// bundle, every profile's role with its trust policy), the TVM's own
// credentials (the Lambda execution role's session) and emulator
// credentials for each dev identity.
//
// How moto decides the account of a request (moto/core/responses.py,
// get_current_account): the MOTO_ACCOUNT_ID environment variable of the
// server, else an x-moto-account-id request header, else the account that
// owns the request's access key ID (an IAM user's key, or the temporary key
// of a role session, which belongs to the role's account), else
// 123456789012. Provision acts as an administrator of each account with the
// header (as Terraform would with each account's provider), and every
// credential it hands out is a key moto itself issued, so later requests
// land in the right account by their key alone.
//
// moto does not evaluate trust policies, session tags or SourceIdentity
// (it accepts and drops the last two), nor does it expire credentials: the
// roles and trust policies are created for fidelity and inspection, not
// because the emulator enforces them.
package devenv

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/sentinel-tvm/sentinel-tvm/internal/gateway"
	"github.com/sentinel-tvm/sentinel-tvm/internal/motoserver"
	"github.com/sentinel-tvm/sentinel-tvm/internal/policy"
	"github.com/sentinel-tvm/sentinel-tvm/internal/store"
)

// Defaults of Options.
const (
	DefaultRegion        = "us-east-1"
	DefaultAccountID     = "123456789012" // moto's default account
	DefaultTableName     = "sentinel-tvm-dev"
	DefaultParameterName = "/sentinel-tvm/dev/policy"
	DefaultRoleName      = "sentinel-tvm-dev"
	KeyAlias             = "alias/sentinel-tvm-dev"
)

// AccountHeader is the request header that tells moto which account a
// request acts in.
const AccountHeader = "x-moto-account-id"

// Durations.
const (
	// ProfileRoleMaxSession is every profile role's MaxSessionDuration: the
	// TVM never vends more than an hour.
	ProfileRoleMaxSession = 3600
	// identitySession is how long dev identities' and the TVM's sessions
	// last (moto does not expire them; the value is what the SDK sees).
	identitySession = 12 * time.Hour
)

// Options configure Provision.
type Options struct {
	Endpoint string // the emulator, e.g. http://127.0.0.1:5000 (required)
	Region   string // default DefaultRegion

	// The policy: Compiled when given, else compiled from PoliciesDir
	// (without its *.test.hcl cases).
	PoliciesDir string
	Compiled    *policy.Compiled

	Identities []NamedCaller

	AccountID       string // the TVM's account (table, key, parameter, its role); default DefaultAccountID
	TableName       string // default DefaultTableName
	ParameterName   string // default DefaultParameterName
	RoleName        string // the TVM's execution role; default DefaultRoleName
	CredentialsFile string // written when set (mode 0600)
	// OrgID, when set, is every identity's organization (principalOrgId in
	// the request context), as for callers of one AWS organization.
	OrgID string
}

// Env is a provisioned environment.
type Env struct {
	Region        string
	AccountID     string // the TVM's account
	TableName     string
	ParameterName string
	PolicySHA256  string
	KMSKeyARN     string
	RoleARN       string // the TVM's execution role
	Compiled      *policy.Compiled

	// AWS is the TVM's own configuration, as the Lambda would have it: the
	// execution role's session (refreshed by the SDK), the region and the
	// emulator endpoint, with requests to moto serialised (see
	// motoserver.Config).
	AWS aws.Config

	// Credentials maps each identity's access key ID to what API Gateway
	// would report for it; the local gateway verifies signatures with it.
	Credentials gateway.StaticStore
	Identities  []Issued

	p *provisioner
}

// AdminConfig returns a configuration acting as an administrator of
// account in the emulator: what the revoker's IAM clients use in local
// mode, where no revoker role exists in the profile roles' accounts.
func (e *Env) AdminConfig(account string) aws.Config {
	return e.p.admin(account)
}

// Provision creates (or updates) the environment. Running it again against
// the same emulator reuses what exists: the key behind KeyAlias, the table,
// the roles; the parameter is overwritten and new credentials are issued.
func Provision(ctx context.Context, o Options) (*Env, error) {
	if o.Endpoint == "" {
		return nil, errors.New("devenv: Endpoint is required")
	}
	if o.Region == "" {
		o.Region = DefaultRegion
	}
	if o.AccountID == "" {
		o.AccountID = DefaultAccountID
	}
	if o.TableName == "" {
		o.TableName = DefaultTableName
	}
	if o.ParameterName == "" {
		o.ParameterName = DefaultParameterName
	}
	if o.RoleName == "" {
		o.RoleName = DefaultRoleName
	}
	if !isAccountID(o.AccountID) {
		return nil, fmt.Errorf("devenv: account %q is not 12 digits", o.AccountID)
	}
	callers, err := checkIdentities(o.Identities)
	if err != nil {
		return nil, fmt.Errorf("devenv: %w", err)
	}
	compiled := o.Compiled
	if compiled == nil {
		if compiled, err = compileDir(o.PoliciesDir); err != nil {
			return nil, err
		}
	}
	roles, err := parseRoleARNs(compiled.RoleARNs)
	if err != nil {
		return nil, err
	}

	p := &provisioner{base: motoserver.Config(o.Endpoint), region: o.Region}
	p.base.Region = o.Region
	env := &Env{
		Region:        o.Region,
		AccountID:     o.AccountID,
		TableName:     o.TableName,
		ParameterName: o.ParameterName,
		PolicySHA256:  compiled.SHA256,
		RoleARN:       "arn:aws:iam::" + o.AccountID + ":role/" + o.RoleName,
		Compiled:      compiled,
		Credentials:   gateway.StaticStore{},
		p:             p,
	}

	// The TVM's execution role first: the profile roles trust it.
	admin := p.admin(o.AccountID)
	if err := p.ensureRole(ctx, o.AccountID, "/", o.RoleName, lambdaTrustPolicy, int32(identitySession/time.Second)); err != nil {
		return nil, err
	}
	if env.KMSKeyARN, err = ensureKey(ctx, kms.NewFromConfig(admin)); err != nil {
		return nil, err
	}
	if err := store.CreateTable(ctx, dynamodb.NewFromConfig(admin), o.TableName); err != nil {
		return nil, fmt.Errorf("devenv: %w", err)
	}
	if err := putBundle(ctx, ssm.NewFromConfig(admin), o.ParameterName, env.KMSKeyARN, compiled.Bundle); err != nil {
		return nil, err
	}
	trust := TrustPolicy(env.RoleARN)
	for _, r := range roles {
		if err := p.ensureRole(ctx, r.account, r.path, r.name, trust, ProfileRoleMaxSession); err != nil {
			return nil, err
		}
	}

	// The TVM's credentials: a session of its role, as Lambda gives it.
	provider := stscreds.NewAssumeRoleProvider(sts.NewFromConfig(admin), env.RoleARN, func(o *stscreds.AssumeRoleOptions) {
		o.RoleSessionName = "sentinel-tvm-dev"
		o.Duration = identitySession
	})
	env.AWS = p.base.Copy()
	env.AWS.Credentials = aws.NewCredentialsCache(provider)
	if _, err := env.AWS.Credentials.Retrieve(ctx); err != nil {
		return nil, fmt.Errorf("devenv: the TVM's session of %s: %w", env.RoleARN, err)
	}

	for i, id := range o.Identities {
		is, err := p.issue(ctx, id, callers[i])
		if err != nil {
			return nil, err
		}
		env.Identities = append(env.Identities, is)
		env.Credentials[is.AccessKeyID] = gateway.Credential{
			Identity: gateway.SigningIdentity{
				UserARN:        is.CallerARN,
				AccountID:      is.AccountID,
				Caller:         is.UserID,
				User:           is.UserID,
				AccessKey:      is.AccessKeyID,
				PrincipalOrgID: o.OrgID,
			},
			SecretAccessKey: is.SecretAccessKey,
			SessionToken:    is.SessionToken,
		}
	}
	if o.CredentialsFile != "" {
		if err := WriteCredentialsFile(o.CredentialsFile, env.Identities); err != nil {
			return nil, fmt.Errorf("devenv: %w", err)
		}
	}
	return env, nil
}

func compileDir(dir string) (*policy.Compiled, error) {
	if dir == "" {
		return nil, errors.New("devenv: PoliciesDir or Compiled is required")
	}
	srcs, err := policy.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("devenv: reading policies: %w", err)
	}
	var policies []policy.Source
	for _, s := range srcs {
		if !policy.IsTestFile(s.Name) {
			policies = append(policies, s)
		}
	}
	compiled, diags := policy.Compile(policies)
	if diags.HasErrors() {
		return nil, fmt.Errorf("devenv: the policy in %s does not compile: %s", dir, diags.Error())
	}
	return compiled, nil
}

// provisioner holds the emulator's base configuration.
type provisioner struct {
	base   aws.Config
	region string
}

// admin returns a configuration acting in account: moto's dummy
// credentials and the account header.
func (p *provisioner) admin(account string) aws.Config {
	c := p.base.Copy()
	c.Credentials = credentials.NewStaticCredentialsProvider("testing", "testing", "")
	c.APIOptions = append(c.APIOptions[:len(c.APIOptions):len(c.APIOptions)], smithyhttp.SetHeaderValue(AccountHeader, account))
	return c
}

// roleRef is a role ARN taken apart.
type roleRef struct{ arn, account, path, name string }

func parseRoleARNs(arns []string) ([]roleRef, error) {
	out := make([]roleRef, 0, len(arns))
	for _, a := range arns {
		parts := strings.SplitN(a, ":", 6)
		if len(parts) != 6 || parts[0] != "arn" || parts[1] != "aws" || parts[2] != "iam" || !isAccountID(parts[4]) || !strings.HasPrefix(parts[5], "role/") {
			return nil, fmt.Errorf("devenv: profile role %q is not arn:aws:iam::ACCOUNT:role/[PATH/]NAME", a)
		}
		res := strings.TrimPrefix(parts[5], "role")
		i := strings.LastIndexByte(res, '/')
		r := roleRef{arn: a, account: parts[4], path: res[:i+1], name: res[i+1:]}
		if !iamNameRE.MatchString(r.name) || !iamPathRE.MatchString(r.path) {
			return nil, fmt.Errorf("devenv: profile role %q: bad path or name", a)
		}
		out = append(out, r)
	}
	return out, nil
}

func isAccountID(s string) bool {
	if len(s) != 12 {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// TrustPolicy is the trust policy of a profile role: only the TVM's
// execution role may assume it, tag the session and set its
// SourceIdentity, and only with a SourceIdentity the TVM stamps (prefix
// "stvm"). The Terraform module modules/protected-role declares the same.
func TrustPolicy(tvmRoleARN string) string {
	doc := map[string]any{
		"Version": "2012-10-17",
		"Statement": []map[string]any{
			{
				"Sid":       "SentinelTVMAssume",
				"Effect":    "Allow",
				"Principal": map[string]any{"AWS": tvmRoleARN},
				"Action":    []string{"sts:AssumeRole", "sts:SetSourceIdentity"},
				"Condition": map[string]any{"StringLike": map[string]any{"sts:SourceIdentity": "stvm*"}},
			},
			{
				"Sid":       "SentinelTVMTag",
				"Effect":    "Allow",
				"Principal": map[string]any{"AWS": tvmRoleARN},
				"Action":    "sts:TagSession",
			},
		},
	}
	b, _ := json.Marshal(doc)
	return string(b)
}

const lambdaTrustPolicy = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}`

// accountTrustPolicy lets any principal of account assume the role: the
// roles dev identities stand for (their sessions are issued by Provision).
func accountTrustPolicy(account string) string {
	return `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + account + `:root"},"Action":["sts:AssumeRole","sts:TagSession"]}]}`
}

// ensureRole creates the role, or brings an existing one's trust policy and
// maximum session duration up to date. An existing role of that name on
// another path is an error: its ARN is not the one wanted.
func (p *provisioner) ensureRole(ctx context.Context, account, path, name, trust string, maxSession int32) error {
	client := iam.NewFromConfig(p.admin(account))
	want := "arn:aws:iam::" + account + ":role" + path + name
	_, err := client.CreateRole(ctx, &iam.CreateRoleInput{
		RoleName:                 aws.String(name),
		Path:                     aws.String(path),
		AssumeRolePolicyDocument: aws.String(trust),
		MaxSessionDuration:       aws.Int32(maxSession),
		Description:              aws.String("created by sentinel-tvm dev"),
	})
	var exists *iamtypes.EntityAlreadyExistsException
	switch {
	case err == nil:
		return nil
	case !errors.As(err, &exists):
		return fmt.Errorf("devenv: create role %s: %w", want, err)
	}
	got, err := client.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(name)})
	if err != nil {
		return fmt.Errorf("devenv: get role %s: %w", want, err)
	}
	if arn := aws.ToString(got.Role.Arn); arn != want {
		return fmt.Errorf("devenv: role %s is wanted, but %s exists with that name", want, arn)
	}
	if _, err := client.UpdateAssumeRolePolicy(ctx, &iam.UpdateAssumeRolePolicyInput{RoleName: aws.String(name), PolicyDocument: aws.String(trust)}); err != nil {
		return fmt.Errorf("devenv: update the trust policy of %s: %w", want, err)
	}
	if _, err := client.UpdateRole(ctx, &iam.UpdateRoleInput{RoleName: aws.String(name), MaxSessionDuration: aws.Int32(maxSession)}); err != nil {
		return fmt.Errorf("devenv: update role %s: %w", want, err)
	}
	return nil
}

// ensureKey returns the ARN of the key behind KeyAlias, creating both when
// missing.
func ensureKey(ctx context.Context, client *kms.Client) (string, error) {
	got, err := client.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(KeyAlias)})
	if err == nil {
		return aws.ToString(got.KeyMetadata.Arn), nil
	}
	var nf *kmstypes.NotFoundException
	if !errors.As(err, &nf) {
		return "", fmt.Errorf("devenv: describe key %s: %w", KeyAlias, err)
	}
	key, err := client.CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String("sentinel-tvm dev: policy bundle and table")})
	if err != nil {
		return "", fmt.Errorf("devenv: create key: %w", err)
	}
	if _, err := client.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String(KeyAlias), TargetKeyId: key.KeyMetadata.KeyId}); err != nil {
		return "", fmt.Errorf("devenv: create alias %s: %w", KeyAlias, err)
	}
	return aws.ToString(key.KeyMetadata.Arn), nil
}

// SSM parameter value limits.
const (
	standardTierMax = 4096
	advancedTierMax = 8192
)

// ParameterValue is how the bundle is stored: the bundle JSON as it is
// (standard tier up to 4 KiB, advanced up to 8 KiB), else gzipped and
// base64-encoded in the advanced tier (what the handler's DecodeBundle
// reads, and Terraform's base64gzip writes).
func ParameterValue(bundle []byte) (string, ssmtypes.ParameterTier, error) {
	switch {
	case len(bundle) <= standardTierMax:
		return string(bundle), ssmtypes.ParameterTierStandard, nil
	case len(bundle) <= advancedTierMax:
		return string(bundle), ssmtypes.ParameterTierAdvanced, nil
	}
	var b bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&b, gzip.BestCompression)
	zw.Write(bundle)
	zw.Close()
	v := base64.StdEncoding.EncodeToString(b.Bytes())
	if len(v) > advancedTierMax {
		return "", "", fmt.Errorf("the bundle is %d bytes, %d gzipped and base64-encoded: more than an SSM parameter holds (%d)", len(bundle), len(v), advancedTierMax)
	}
	return v, ssmtypes.ParameterTierAdvanced, nil
}

// putBundle writes the bundle to the SecureString parameter, encrypted with
// keyID, overwriting an earlier value.
func putBundle(ctx context.Context, client *ssm.Client, name, keyID string, bundle []byte) error {
	value, tier, err := ParameterValue(bundle)
	if err != nil {
		return fmt.Errorf("devenv: parameter %s: %w", name, err)
	}
	_, err = client.PutParameter(ctx, &ssm.PutParameterInput{
		Name:        aws.String(name),
		Value:       aws.String(value),
		Type:        ssmtypes.ParameterTypeSecureString,
		KeyId:       aws.String(keyID),
		Tier:        tier,
		Overwrite:   aws.Bool(true),
		Description: aws.String("sentinel-tvm policy bundle (sentinel-tvm dev)"),
	})
	if err != nil {
		return fmt.Errorf("devenv: put parameter %s: %w", name, err)
	}
	return nil
}

// issue creates what the identity stands for in the emulator and returns
// credentials moto issued for it.
func (p *provisioner) issue(ctx context.Context, id NamedCaller, c caller) (Issued, error) {
	pr := c.principal
	is := Issued{Name: id.Name, CallerARN: id.CallerARN, AccountID: pr.AccountID}
	admin := p.admin(pr.AccountID)
	switch pr.Type {
	case policy.TypeAssumedRole:
		// The role may exist already (a profile role, or an earlier run):
		// its trust policy is left alone then.
		client := iam.NewFromConfig(admin)
		role, err := client.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(pr.Name)})
		var nf *iamtypes.NoSuchEntityException
		switch {
		case errors.As(err, &nf):
			if err := p.ensureRole(ctx, pr.AccountID, "/", pr.Name, accountTrustPolicy(pr.AccountID), int32(identitySession/time.Second)); err != nil {
				return is, fmt.Errorf("identity %s: %w", id.Name, err)
			}
			if role, err = client.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(pr.Name)}); err != nil {
				return is, fmt.Errorf("devenv: identity %s: get role %s: %w", id.Name, pr.Name, err)
			}
		case err != nil:
			return is, fmt.Errorf("devenv: identity %s: get role %s: %w", id.Name, pr.Name, err)
		}
		out, err := sts.NewFromConfig(admin).AssumeRole(ctx, &sts.AssumeRoleInput{
			RoleArn:         role.Role.Arn,
			RoleSessionName: aws.String(pr.SessionName),
			DurationSeconds: aws.Int32(int32(identitySession / time.Second)),
		})
		if err != nil {
			return is, fmt.Errorf("devenv: identity %s: assume role %s: %w", id.Name, aws.ToString(role.Role.Arn), err)
		}
		if got := aws.ToString(out.AssumedRoleUser.Arn); got != id.CallerARN {
			return is, fmt.Errorf("devenv: identity %s: the emulator issued a session for %s, not %s", id.Name, got, id.CallerARN)
		}
		is.UserID = aws.ToString(out.AssumedRoleUser.AssumedRoleId)
		is.AccessKeyID = aws.ToString(out.Credentials.AccessKeyId)
		is.SecretAccessKey = aws.ToString(out.Credentials.SecretAccessKey)
		is.SessionToken = aws.ToString(out.Credentials.SessionToken)
		is.Expires = aws.ToTime(out.Credentials.Expiration)
	case policy.TypeUser:
		client := iam.NewFromConfig(admin)
		user, err := p.ensureUser(ctx, client, c.path, pr.Name, id.CallerARN)
		if err != nil {
			return is, fmt.Errorf("devenv: identity %s: %w", id.Name, err)
		}
		// Replace earlier keys: IAM allows two per user.
		keys, err := client.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String(pr.Name)})
		if err != nil {
			return is, fmt.Errorf("devenv: identity %s: list access keys: %w", id.Name, err)
		}
		for _, k := range keys.AccessKeyMetadata {
			if _, err := client.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: aws.String(pr.Name), AccessKeyId: k.AccessKeyId}); err != nil {
				return is, fmt.Errorf("devenv: identity %s: delete access key: %w", id.Name, err)
			}
		}
		key, err := client.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String(pr.Name)})
		if err != nil {
			return is, fmt.Errorf("devenv: identity %s: create access key: %w", id.Name, err)
		}
		is.UserID = userID(aws.ToString(user.UserId))
		is.AccessKeyID = aws.ToString(key.AccessKey.AccessKeyId)
		is.SecretAccessKey = aws.ToString(key.AccessKey.SecretAccessKey)
	}
	return is, nil
}

// ensureUser creates the IAM user or returns the existing one, which must
// have the caller ARN (same path).
func (p *provisioner) ensureUser(ctx context.Context, client *iam.Client, path, name, arn string) (*iamtypes.User, error) {
	out, err := client.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(name), Path: aws.String(path)})
	if err == nil {
		return out.User, nil
	}
	var exists *iamtypes.EntityAlreadyExistsException
	if !errors.As(err, &exists) {
		return nil, fmt.Errorf("create user %s: %w", arn, err)
	}
	got, err := client.GetUser(ctx, &iam.GetUserInput{UserName: aws.String(name)})
	if err != nil {
		return nil, fmt.Errorf("get user %s: %w", arn, err)
	}
	if a := aws.ToString(got.User.Arn); a != arn {
		return nil, fmt.Errorf("user %s is wanted, but %s exists with that name", arn, a)
	}
	return got.User, nil
}

// userID returns an IAM user's unique ID as AWS spells them (AIDA and 17
// more upper-case letters and digits). moto's are 20 lower-case characters;
// upper-casing keeps them unique and stable per user.
func userID(motoID string) string {
	if strings.HasPrefix(motoID, "AIDA") {
		return motoID
	}
	return "AIDA" + strings.ToUpper(motoID)
}
