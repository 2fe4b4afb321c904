package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"regexp"
	"slices"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/spf13/cobra"

	"github.com/sentinel-tvm/sentinel-tvm/internal/awsdeps"
	"github.com/sentinel-tvm/sentinel-tvm/internal/devenv"
	"github.com/sentinel-tvm/sentinel-tvm/internal/gateway"
	"github.com/sentinel-tvm/sentinel-tvm/internal/policy"
	"github.com/sentinel-tvm/sentinel-tvm/internal/revoke"
	"github.com/sentinel-tvm/sentinel-tvm/internal/store"
	"github.com/sentinel-tvm/sentinel-tvm/internal/vend"
)

// devOptions are the flags of `sentinel-tvm dev`.
type devOptions struct {
	policies        string
	listen          string
	endpoint        string
	identities      []string
	credentialsFile string
	region          string
	orgID           string
	now             func() time.Time // tests: the service's clock, also the log's; default time.Now
}

var (
	regionRE = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-\d{1,2}$`)
)

func devCommand() *cobra.Command {
	var o devOptions
	cmd := &cobra.Command{
		Use:   "dev --policies DIR --listen HOST:PORT --aws-endpoint URL --identity NAME=CALLER_ARN... --credentials-file PATH",
		Short: "Serve the TVM locally on an AWS emulator (moto), behind a SigV4-verifying gateway",
		Long: `Dev runs the service on one machine with no AWS account. Against the AWS
emulator at --aws-endpoint (moto_server) it provisions what Terraform would:
the KMS key, the table, the SSM SecureString with the compiled policy and every
profile's role in its account; it issues emulator credentials for each
--identity and writes them to --credentials-file as an AWS shared-credentials
file, one [NAME] section each (mode 0600).

It then serves the API like API Gateway with IAM auth: SigV4 for the service
execute-api in --region, checked against the dev identities only; a signed
request reaches the Lambda handler as the REST API event for its CALLER_ARN.
It prints "listening on http://ADDR" once it accepts requests, and stops on
SIGINT or SIGTERM.

The handler's settings come from the SENTINEL_* environment variables the
Lambda reads (SENTINEL_RATE_LIMIT, SENTINEL_RATE_WINDOW, ...); the table, the
parameter and the policy sha256 are the ones dev provisions.

CALLER_ARN is an assumed-role session (arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION)
or an IAM user (arn:aws:iam::ACCOUNT:user/NAME).`,
		Example: `  sentinel-tvm dev --policies policies --listen 127.0.0.1:8080 \
    --aws-endpoint http://127.0.0.1:5055 --credentials-file /tmp/dev-credentials \
    --identity alice=arn:aws:sts::111122223333:assumed-role/engineer-dev/alice`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return runDev(ctx, o, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.policies, "policies", "", "directory of the policy's *.hcl files (required)")
	f.StringVar(&o.listen, "listen", "", "address to serve on, HOST:PORT (port 0 picks a free one) (required)")
	f.StringVar(&o.endpoint, "aws-endpoint", "", "URL of the AWS emulator, e.g. http://127.0.0.1:5055 (required)")
	f.StringArrayVar(&o.identities, "identity", nil, "a dev identity NAME=CALLER_ARN (repeatable, at least one)")
	f.StringVar(&o.credentialsFile, "credentials-file", "", "where to write the identities' credentials (required)")
	f.StringVar(&o.region, "region", devenv.DefaultRegion, "the region of the emulated API and resources")
	f.StringVar(&o.orgID, "org-id", "", "the organization ID of every dev identity (principalOrgId), e.g. o-a1b2c3d4e5")
	return cmd
}

// check validates the flags; every problem is a usage error.
func (o devOptions) check() ([]devenv.NamedCaller, error) {
	for _, req := range []struct{ flag, v string }{
		{"--policies", o.policies}, {"--listen", o.listen}, {"--aws-endpoint", o.endpoint}, {"--credentials-file", o.credentialsFile},
	} {
		if req.v == "" {
			return nil, usagef("%s is required", req.flag)
		}
	}
	if len(o.identities) == 0 {
		return nil, usagef("at least one --identity NAME=CALLER_ARN is required")
	}
	if _, _, err := net.SplitHostPort(o.listen); err != nil {
		return nil, usagef("--listen %q is not HOST:PORT", o.listen)
	}
	if u, err := url.Parse(o.endpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, usagef("--aws-endpoint %q is not an http(s) URL", o.endpoint)
	}
	if o.orgID != "" && !policy.IsOrgID(o.orgID) {
		return nil, usagef("--org-id %q is not an organization ID such as o-a1b2c3d4e5", o.orgID)
	}
	if !regionRE.MatchString(o.region) {
		return nil, usagef("--region %q is not a region name such as us-east-1", o.region)
	}
	ids := make([]devenv.NamedCaller, 0, len(o.identities))
	for _, s := range o.identities {
		id, err := devenv.ParseNamedCaller(s)
		if err != nil {
			return nil, usagef("--identity: %v", err)
		}
		ids = append(ids, id)
	}
	return ids, nil
}

// runDev provisions, serves until ctx ends, then shuts down.
func runDev(ctx context.Context, o devOptions, stdout, stderr io.Writer) error {
	ids, err := o.check()
	if err != nil {
		return err
	}
	srcs, err := readPolicy(o.policies, false)
	if err != nil {
		return err
	}
	compiled, err := compile(srcs, stderr)
	if err != nil {
		return err
	}

	provCtx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	env, err := devenv.Provision(provCtx, devenv.Options{
		Endpoint:        o.endpoint,
		Region:          o.region,
		Compiled:        compiled,
		Identities:      ids,
		CredentialsFile: o.credentialsFile,
		OrgID:           o.orgID,
	})
	cancel()
	if err != nil {
		return fmt.Errorf("provisioning the emulator at %s: %w", o.endpoint, err)
	}

	// The handler's configuration as the Lambda reads it, with what was
	// just provisioned in place of Terraform's outputs.
	provisioned := map[string]string{
		"SENTINEL_TABLE_NAME":       env.TableName,
		"SENTINEL_POLICY_PARAMETER": env.ParameterName,
		"SENTINEL_POLICY_SHA256":    env.PolicySHA256,
	}
	cfg, err := vend.ConfigFromEnv(func(k string) string {
		if v, ok := provisioned[k]; ok {
			return v
		}
		if k == "SENTINEL_VERSION" && os.Getenv(k) == "" {
			return Version
		}
		return os.Getenv(k)
	})
	if err != nil {
		return err
	}
	logOpts := &slog.HandlerOptions{}
	if o.now != nil {
		logOpts.ReplaceAttr = func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && a.Key == slog.TimeKey {
				return slog.Time(slog.TimeKey, o.now())
			}
			return a
		}
	}
	log := slog.New(slog.NewJSONHandler(stderr, logOpts))
	deps := awsdeps.New(env.AWS, cfg, log, io.Discard)
	if o.now != nil {
		deps.Now = o.now
		deps.Store = store.NewDynamo(dynamodb.NewFromConfig(env.AWS), cfg.TableName, store.Options{Retention: cfg.Retention, Now: o.now})
	}
	// The revoker runs in-process, with IAM clients acting in each profile
	// role's account of the emulator (in AWS it is a function of its own),
	// and reads the sessions through the same store (and clock).
	deps.Revoker = &revoke.Revoker{Sessions: deps.Store, Now: o.now, Clients: func(_ context.Context, account string) (revoke.IAMAPI, error) {
		return iam.NewFromConfig(env.AdminConfig(account)), nil
	}}
	svc, err := vend.New(cfg, deps)
	if err != nil {
		return err
	}
	routes := svc.Routes()
	slices.Sort(routes)
	handler, err := gateway.NewHandler(gateway.Config{
		Verifier:  &gateway.Verifier{Region: o.region, Store: env.Credentials},
		Backend:   svc.HandleJSON,
		Routes:    routes,
		AccountID: env.AccountID,
		Logger:    log,
	})
	if err != nil {
		return err
	}

	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	fmt.Fprintf(stderr, "emulator %s (region %s): table %s, parameter %s (policy sha256 %s), key %s, TVM role %s\n",
		o.endpoint, o.region, env.TableName, env.ParameterName, env.PolicySHA256, env.KMSKeyARN, env.RoleARN)
	for _, id := range env.Identities {
		fmt.Fprintf(stderr, "identity %s: %s (AWS_SHARED_CREDENTIALS_FILE=%s AWS_PROFILE=%s)\n", id.Name, id.CallerARN, o.credentialsFile, id.Name)
	}
	fmt.Fprintf(stdout, "listening on http://%s\n", ln.Addr())

	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	shutCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	fmt.Fprintln(stderr, "stopped")
	return nil
}
