package devenv

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	ststypes "github.com/aws/aws-sdk-go-v2/service/sts/types"

	"github.com/sentinel-tvm/sentinel-tvm/internal/motoserver"
	"github.com/sentinel-tvm/sentinel-tvm/internal/policy"
	"github.com/sentinel-tvm/sentinel-tvm/internal/store"
)

func TestMain(m *testing.M) { os.Exit(motoserver.Main(m)) }

var testIdentities = []NamedCaller{
	{Name: "alice", CallerARN: "arn:aws:sts::111122223333:assumed-role/engineer-dev/alice"},
	{Name: "sso", CallerARN: "arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Engineering_0123abcd/alice@example.com"},
	{Name: "bob", CallerARN: "arn:aws:iam::111122223333:user/bob"},
	{Name: "ops", CallerARN: "arn:aws:iam::444455556666:user/ops/oncall"},
	// A profile role's own session: the identity reuses the role.
	{Name: "ro", CallerARN: "arn:aws:sts::444455556666:assumed-role/prod-readonly/carol"},
}

func TestProvision(t *testing.T) {
	srv := motoserver.Start(t)
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"} {
		t.Setenv(k, "")
	}
	ctx := context.Background()
	credsFile := filepath.Join(t.TempDir(), "credentials")
	opts := Options{
		Endpoint:        srv.URL,
		PoliciesDir:     "../../policies",
		Identities:      testIdentities,
		CredentialsFile: credsFile,
	}
	env, err := Provision(ctx, opts)
	if err != nil {
		t.Fatalf("Provision: %v", err)
	}
	compiled := compileExamples(t)
	if env.PolicySHA256 != compiled.SHA256 {
		t.Errorf("PolicySHA256 = %s, want %s", env.PolicySHA256, compiled.SHA256)
	}
	if env.RoleARN != "arn:aws:iam::123456789012:role/sentinel-tvm-dev" {
		t.Errorf("RoleARN = %s", env.RoleARN)
	}
	if !strings.HasPrefix(env.KMSKeyARN, "arn:aws:kms:us-east-1:123456789012:key/") {
		t.Errorf("KMSKeyARN = %s", env.KMSKeyARN)
	}

	t.Run("the TVM reads the bundle", func(t *testing.T) {
		out, err := ssm.NewFromConfig(env.AWS).GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(env.ParameterName), WithDecryption: aws.Bool(true)})
		if err != nil {
			t.Fatal(err)
		}
		if got := aws.ToString(out.Parameter.Value); got != string(compiled.Bundle) {
			t.Errorf("parameter value is not the bundle:\n%.200s", got)
		}
		if out.Parameter.Type != ssmtypes.ParameterTypeSecureString {
			t.Errorf("type = %s, want SecureString", out.Parameter.Type)
		}
		desc, err := ssm.NewFromConfig(env.AWS).DescribeParameters(ctx, &ssm.DescribeParametersInput{})
		if err != nil {
			t.Fatal(err)
		}
		if len(desc.Parameters) != 1 || aws.ToString(desc.Parameters[0].KeyId) != env.KMSKeyARN {
			t.Errorf("parameters = %+v, want one with key %s", desc.Parameters, env.KMSKeyARN)
		}
	})

	t.Run("the TVM finds the table", func(t *testing.T) {
		db := dynamodb.NewFromConfig(env.AWS)
		out, err := db.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(env.TableName)})
		if err != nil {
			t.Fatal(err)
		}
		var keys []string
		for _, k := range out.Table.KeySchema {
			keys = append(keys, aws.ToString(k.AttributeName)+":"+string(k.KeyType))
		}
		if want := []string{store.AttrPK + ":HASH", store.AttrSK + ":RANGE"}; !slices.Equal(keys, want) {
			t.Errorf("keys = %v, want %v", keys, want)
		}
		var indexes []string
		for _, g := range out.Table.GlobalSecondaryIndexes {
			indexes = append(indexes, aws.ToString(g.IndexName))
		}
		slices.Sort(indexes)
		if want := []string{store.IndexGSI1, store.IndexGSI2}; !slices.Equal(indexes, want) {
			t.Errorf("indexes = %v, want %v", indexes, want)
		}
		ttl, err := db.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: aws.String(env.TableName)})
		if err != nil {
			t.Fatal(err)
		}
		if d := ttl.TimeToLiveDescription; string(d.TimeToLiveStatus) != "ENABLED" || aws.ToString(d.AttributeName) != store.AttrTTL {
			t.Errorf("TTL = %s on %q, want ENABLED on %q", d.TimeToLiveStatus, aws.ToString(d.AttributeName), store.AttrTTL)
		}
	})

	t.Run("every profile role exists in its account", func(t *testing.T) {
		if len(compiled.RoleARNs) < 2 {
			t.Fatalf("the example policy has %d roles", len(compiled.RoleARNs))
		}
		p := &provisioner{base: srv.Config}
		for _, arn := range compiled.RoleARNs {
			account := strings.Split(arn, ":")[4]
			name := arn[strings.LastIndexByte(arn, '/')+1:]
			out, err := iam.NewFromConfig(p.admin(account)).GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(name)})
			if err != nil {
				t.Errorf("%s: %v", arn, err)
				continue
			}
			if got := aws.ToString(out.Role.Arn); got != arn {
				t.Errorf("role ARN = %s, want %s", got, arn)
			}
			if got := aws.ToInt32(out.Role.MaxSessionDuration); got != 3600 {
				t.Errorf("%s: MaxSessionDuration = %d, want 3600", arn, got)
			}
			trust, err := url.QueryUnescape(aws.ToString(out.Role.AssumeRolePolicyDocument))
			if err != nil {
				t.Fatal(err)
			}
			for _, want := range []string{env.RoleARN, "sts:AssumeRole", "sts:TagSession", "sts:SetSourceIdentity"} {
				if !strings.Contains(trust, want) {
					t.Errorf("%s: trust policy lacks %s: %s", arn, want, trust)
				}
			}
		}
		// A role is only in its own account.
		_, err := iam.NewFromConfig(p.admin("111122223333")).GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String("prod-admin")})
		if err == nil {
			t.Error("prod-admin exists in 111122223333 too")
		}
	})

	t.Run("the TVM assumes a profile role", func(t *testing.T) {
		client := sts.NewFromConfig(env.AWS)
		me, err := client.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		if err != nil {
			t.Fatal(err)
		}
		if got := aws.ToString(me.Arn); got != "arn:aws:sts::123456789012:assumed-role/sentinel-tvm-dev/sentinel-tvm-dev" {
			t.Errorf("the TVM is %s", got)
		}
		out, err := client.AssumeRole(ctx, &sts.AssumeRoleInput{
			RoleArn:         aws.String("arn:aws:iam::444455556666:role/sentinel/prod-admin"),
			RoleSessionName: aws.String("alice"),
			SourceIdentity:  aws.String("stvm.engineer-dev.0123456789ab"),
			DurationSeconds: aws.Int32(900),
			Tags:            []ststypes.Tag{{Key: aws.String("sentinel:session-id"), Value: aws.String("0123456789abcdef")}},
		})
		if err != nil {
			t.Fatal(err)
		}
		c := out.Credentials
		vended := srv.Config.Copy()
		vended.Credentials = credentials.NewStaticCredentialsProvider(aws.ToString(c.AccessKeyId), aws.ToString(c.SecretAccessKey), aws.ToString(c.SessionToken))
		who, err := sts.NewFromConfig(vended).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := aws.ToString(who.Arn), "arn:aws:sts::444455556666:assumed-role/prod-admin/alice"; got != want {
			t.Errorf("vended credentials are %s, want %s", got, want)
		}
		if got := aws.ToString(who.Account); got != "444455556666" {
			t.Errorf("account = %s", got)
		}
	})

	t.Run("the credentials file", func(t *testing.T) {
		checkCredentialsFile(t, env, credsFile, srv.URL)
	})

	t.Run("the gateway's credential store", func(t *testing.T) {
		if len(env.Credentials) != len(testIdentities) {
			t.Fatalf("%d credentials, want %d", len(env.Credentials), len(testIdentities))
		}
		for _, is := range env.Identities {
			id, secret, token, ok := env.Credentials.Lookup(is.AccessKeyID)
			if !ok || secret != is.SecretAccessKey || token != is.SessionToken {
				t.Errorf("%s: Lookup does not return its secrets", is.Name)
			}
			if id.UserARN != is.CallerARN || id.AccountID != strings.Split(is.CallerARN, ":")[4] || id.Caller == "" || id.User != id.Caller || id.AccessKey != is.AccessKeyID {
				t.Errorf("%s: identity = %+v", is.Name, id)
			}
			switch {
			case strings.Contains(is.CallerARN, ":assumed-role/"):
				session := is.CallerARN[strings.LastIndexByte(is.CallerARN, '/')+1:]
				if !strings.HasPrefix(id.Caller, "AROA") || !strings.HasSuffix(id.Caller, ":"+session) || is.SessionToken == "" || is.Expires.Before(time.Now().Add(time.Hour)) {
					t.Errorf("%s: caller %q, token %v, expires %s", is.Name, id.Caller, is.SessionToken != "", is.Expires)
				}
			default:
				if !strings.HasPrefix(id.Caller, "AIDA") || is.SessionToken != "" || !is.Expires.IsZero() {
					t.Errorf("%s: caller %q, token %v", is.Name, id.Caller, is.SessionToken != "")
				}
			}
		}
	})

	t.Run("provisioning again", func(t *testing.T) {
		again, err := Provision(ctx, opts)
		if err != nil {
			t.Fatalf("second Provision: %v", err)
		}
		if again.KMSKeyARN != env.KMSKeyARN {
			t.Errorf("the second run made a new key: %s, then %s", env.KMSKeyARN, again.KMSKeyARN)
		}
		checkCredentialsFile(t, again, credsFile, srv.URL)
		out, err := ssm.NewFromConfig(again.AWS).GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(again.ParameterName), WithDecryption: aws.Bool(true)})
		if err != nil || aws.ToString(out.Parameter.Value) != string(compiled.Bundle) {
			t.Errorf("after the second run the parameter is unreadable or changed: %v", err)
		}
	})
}

// checkCredentialsFile loads each section with the SDK's own shared
// credentials loader and asks moto who it is.
func checkCredentialsFile(t *testing.T, env *Env, path, endpoint string) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("credentials file mode = %v, want 0600", fi.Mode().Perm())
	}
	for _, is := range env.Identities {
		cfg, err := config.LoadDefaultConfig(context.Background(),
			config.WithSharedCredentialsFiles([]string{path}),
			config.WithSharedConfigFiles([]string{}),
			config.WithSharedConfigProfile(is.Name),
			config.WithRegion("us-east-1"),
			config.WithBaseEndpoint(endpoint),
		)
		if err != nil {
			t.Fatalf("%s: %v", is.Name, err)
		}
		creds, err := cfg.Credentials.Retrieve(context.Background())
		if err != nil {
			t.Fatalf("%s: %v", is.Name, err)
		}
		if creds.AccessKeyID != is.AccessKeyID || creds.SecretAccessKey != is.SecretAccessKey || creds.SessionToken != is.SessionToken {
			t.Errorf("%s: the file holds other credentials than Env", is.Name)
		}
		who, err := sts.NewFromConfig(cfg).GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{})
		if err != nil {
			t.Fatalf("%s: %v", is.Name, err)
		}
		if got := aws.ToString(who.Arn); got != is.CallerARN {
			t.Errorf("%s: moto says %s, want %s", is.Name, got, is.CallerARN)
		}
		if got := aws.ToString(who.Account); got != is.AccountID {
			t.Errorf("%s: account %s, want %s", is.Name, got, is.AccountID)
		}
	}
}

func compileExamples(t *testing.T) *policy.Compiled {
	t.Helper()
	c, err := compileDir("../../policies")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestProvisionTakesACompiledPolicy(t *testing.T) {
	srv := motoserver.Start(t)
	compiled := compileExamples(t)
	env, err := Provision(context.Background(), Options{Endpoint: srv.URL, Compiled: compiled, Region: "eu-west-1", TableName: "other", ParameterName: "/x/policy"})
	if err != nil {
		t.Fatal(err)
	}
	if env.Compiled != compiled || env.Region != "eu-west-1" || env.AWS.Region != "eu-west-1" {
		t.Errorf("env = %+v", env)
	}
	if _, err := ssm.NewFromConfig(env.AWS).GetParameter(context.Background(), &ssm.GetParameterInput{Name: aws.String("/x/policy")}); err != nil {
		t.Errorf("the parameter is not in eu-west-1: %v", err)
	}
}

func TestProvisionRejects(t *testing.T) {
	tests := []struct {
		name    string
		opts    Options
		wantErr string
	}{
		{"no endpoint", Options{}, "devenv: Endpoint is required"},
		{"no policy", Options{Endpoint: "http://127.0.0.1:1"}, "devenv: PoliciesDir or Compiled is required"},
		{"bad account", Options{Endpoint: "http://127.0.0.1:1", AccountID: "12"}, `devenv: account "12" is not 12 digits`},
		{"repeated name", Options{Endpoint: "http://127.0.0.1:1", Identities: []NamedCaller{
			{Name: "a", CallerARN: "arn:aws:iam::111122223333:user/a"},
			{Name: "A", CallerARN: "arn:aws:iam::111122223333:user/b"},
		}}, `devenv: identity name "A" is given twice`},
		{"repeated ARN", Options{Endpoint: "http://127.0.0.1:1", Identities: []NamedCaller{
			{Name: "a", CallerARN: "arn:aws:iam::111122223333:user/a"},
			{Name: "b", CallerARN: "arn:aws:iam::111122223333:user/a"},
		}}, `devenv: caller ARN arn:aws:iam::111122223333:user/a is given twice`},
		{"bad policy dir", Options{Endpoint: "http://127.0.0.1:1", PoliciesDir: "/nonexistent"}, "devenv: reading policies"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Provision(context.Background(), tt.opts)
			if err == nil || !strings.HasPrefix(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

func TestParseNamedCaller(t *testing.T) {
	tests := []struct {
		in      string
		want    NamedCaller
		wantErr string
	}{
		{in: "alice=arn:aws:sts::111122223333:assumed-role/engineer-dev/alice", want: NamedCaller{"alice", "arn:aws:sts::111122223333:assumed-role/engineer-dev/alice"}},
		{in: "bob=arn:aws:iam::111122223333:user/bob", want: NamedCaller{"bob", "arn:aws:iam::111122223333:user/bob"}},
		{in: "ops=arn:aws:iam::111122223333:user/team/ops/oncall", want: NamedCaller{"ops", "arn:aws:iam::111122223333:user/team/ops/oncall"}},
		{in: "alice", wantErr: `identity "alice" is not NAME=CALLER_ARN`},
		{in: "=arn:aws:iam::111122223333:user/bob", wantErr: `identity name "" is not 1-64 characters of [A-Za-z0-9_.@+-] starting with a letter or digit`},
		{in: "a b=arn:aws:iam::111122223333:user/bob", wantErr: `identity name "a b" is not 1-64 characters of [A-Za-z0-9_.@+-] starting with a letter or digit`},
		{in: "x=arn:aws:iam::1111:user/bob", wantErr: `identity x: "arn:aws:iam::1111:user/bob" does not name a 12-digit account`},
		{in: "x=arn:aws:sts::111122223333:assumed-role/dev/a", wantErr: `identity x: session name "a" is not 2-64 characters of [\w+=,.@-]`},
		{in: "x=arn:aws:sts::111122223333:assumed-role/dev/a b", wantErr: `identity x: session name "a b" is not 2-64 characters of [\w+=,.@-]`},
		{in: "x=arn:aws:iam::111122223333:user/bo#b", wantErr: `identity x: "user/bo#b" is not a valid IAM user path and name`},
		{in: "x=arn:aws-cn:iam::111122223333:user/bob", wantErr: `identity x: partition "aws-cn": local mode emulates the aws partition only`},
		{in: "x=arn:aws:iam::111122223333:root", wantErr: `identity x: arn:aws:iam::111122223333:root is a root; local mode issues assumed-role sessions (arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION) and IAM users (arn:aws:iam::ACCOUNT:user/NAME)`},
		{in: "x=arn:aws:sts::111122223333:federated-user/bob", wantErr: `identity x: arn:aws:sts::111122223333:federated-user/bob is a federated-user; local mode issues`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseNamedCaller(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParseNamedCaller = %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

func TestParseRoleARNs(t *testing.T) {
	got, err := parseRoleARNs([]string{"arn:aws:iam::111122223333:role/a", "arn:aws:iam::444455556666:role/x/y/b"})
	if err != nil {
		t.Fatal(err)
	}
	want := []roleRef{
		{"arn:aws:iam::111122223333:role/a", "111122223333", "/", "a"},
		{"arn:aws:iam::444455556666:role/x/y/b", "444455556666", "/x/y/", "b"},
	}
	if !slices.Equal(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
	for _, bad := range []string{"arn:aws:iam::111122223333:user/a", "arn:aws:iam::1:role/a", "arn:aws:iam::111122223333:role/"} {
		if _, err := parseRoleARNs([]string{bad}); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}

func TestParameterValue(t *testing.T) {
	tests := []struct {
		name     string
		size     int
		wantTier ssmtypes.ParameterTier
		wantGzip bool
	}{
		{"standard", 4096, ssmtypes.ParameterTierStandard, false},
		{"advanced", 4097, ssmtypes.ParameterTierAdvanced, false},
		{"advanced full", 8192, ssmtypes.ParameterTierAdvanced, false},
		{"gzipped", 50000, ssmtypes.ParameterTierAdvanced, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bundle := []byte(`{"x":"` + strings.Repeat("a", tt.size-8) + `"}`)
			v, tier, err := ParameterValue(bundle)
			if err != nil {
				t.Fatal(err)
			}
			if tier != tt.wantTier {
				t.Errorf("tier = %s, want %s", tier, tt.wantTier)
			}
			if !tt.wantGzip {
				if v != string(bundle) {
					t.Error("value is not the bundle")
				}
				return
			}
			raw, err := base64.StdEncoding.DecodeString(v)
			if err != nil {
				t.Fatal(err)
			}
			zr, err := gzip.NewReader(bytes.NewReader(raw))
			if err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(zr)
			if !bytes.Equal(got, bundle) {
				t.Error("gunzipped value is not the bundle")
			}
		})
	}
	if _, _, err := ParameterValue(randomBytes(20000)); err == nil {
		t.Error("an incompressible 20000-byte bundle fits")
	}
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	x := uint32(2463534242)
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x)
	}
	return b
}

func TestWriteCredentialsFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "credentials")
	if err := os.WriteFile(path, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	err := WriteCredentialsFile(path, []Issued{
		{Name: "alice", CallerARN: "arn:aws:sts::111122223333:assumed-role/dev/alice", AccessKeyID: "ASIAX", SecretAccessKey: "s1", SessionToken: "t1"},
		{Name: "bob", CallerARN: "arn:aws:iam::111122223333:user/bob", AccessKeyID: "AKIAX", SecretAccessKey: "s2"},
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := `# Emulator credentials written by ` + "`sentinel-tvm dev`" + `; they work against the local
# service and the AWS emulator only.

[alice]
aws_access_key_id = ASIAX
aws_secret_access_key = s1
aws_session_token = t1

[bob]
aws_access_key_id = AKIAX
aws_secret_access_key = s2
`
	if string(got) != want {
		t.Errorf("file:\n%s\nwant:\n%s", got, want)
	}
	fi, _ := os.Stat(path)
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode = %v, want 0600", fi.Mode().Perm())
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("temporary files left: %v", entries)
	}
}

func TestTrustPolicy(t *testing.T) {
	got := TrustPolicy("arn:aws:iam::123456789012:role/tvm")
	want := `{"Statement":[{"Action":["sts:AssumeRole","sts:SetSourceIdentity"],"Condition":{"StringLike":{"sts:SourceIdentity":"stvm*"}},"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:role/tvm"},"Sid":"SentinelTVMAssume"},{"Action":"sts:TagSession","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:role/tvm"},"Sid":"SentinelTVMTag"}],"Version":"2012-10-17"}`
	if got != want {
		t.Errorf("TrustPolicy =\n%s\nwant\n%s", got, want)
	}
}
