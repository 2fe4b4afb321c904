package client_test

import (
	"context"
	"errors"
	"fmt"
	"log"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/sentinel-tvm/sentinel-tvm/client"
	"github.com/sentinel-tvm/sentinel-tvm/internal/clienttest"
)

// tvm starts a test TVM (the real gateway and handler, fake STS) and
// returns its URL; a real deployment's URL is its API Gateway stage URL.
func tvm() (url string, stop func()) {
	s, err := clienttest.Start()
	if err != nil {
		log.Fatal(err)
	}
	return s.URL, s.Close
}

// The caller's own AWS credentials sign the requests; here fixed ones that
// the test TVM knows (New uses the default chain when none are given).
var callerCredentials = credentials.NewStaticCredentialsProvider(
	clienttest.Alice.Credentials.AccessKeyID, clienttest.Alice.Credentials.SecretAccessKey, clienttest.Alice.Credentials.SessionToken)

// A Provider plugs the TVM into any aws-sdk-go-v2 client.
func ExampleProvider() {
	url, stop := tvm()
	defer stop()

	c, err := client.New(url, client.WithRegion("us-east-1"), client.WithCredentials(callerCredentials))
	if err != nil {
		log.Fatal(err)
	}
	cfg, err := config.LoadDefaultConfig(context.Background(),
		config.WithRegion("us-east-1"),
		config.WithCredentialsProvider(aws.NewCredentialsCache(client.Provider{Client: c, Profile: "dev-readonly"})))
	if err != nil {
		log.Fatal(err)
	}
	// s3.NewFromConfig(cfg) and every other client now use vended credentials.
	creds, err := cfg.Credentials.Retrieve(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(creds.AccessKeyID, creds.Source, creds.CanExpire)
	// Output: ASIAVENDED0000000001 SentinelTVMProvider true
}

// Credentials answers in the format asked for; native carries the session.
func ExampleClient_Credentials() {
	url, stop := tvm()
	defer stop()

	c, err := client.New(url, client.WithRegion("us-east-1"), client.WithCredentials(callerCredentials))
	if err != nil {
		log.Fatal(err)
	}
	resp, err := c.Credentials(context.Background(), client.CredentialsRequest{Profile: "dev-readonly", DurationSeconds: 1800}, client.FormatNative)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(resp.Profile, resp.RoleARN, resp.DurationSeconds, resp.Decision.Rule, resp.Decision.Via)
	fmt.Println(resp.Credentials.AccessKeyID, resp.Credentials.Expiration.Sub(resp.ExpiresAt))
	// Output:
	// dev-readonly arn:aws:iam::111122223333:role/sentinel/dev-readonly 1800 engineers-dev policy
	// ASIAVENDED0000000001 0s
}

// Refusals are *client.Error values with the service's code.
func ExampleError() {
	url, stop := tvm()
	defer stop()

	c, err := client.New(url, client.WithRegion("us-east-1"), client.WithCredentials(callerCredentials))
	if err != nil {
		log.Fatal(err)
	}
	_, err = c.Credentials(context.Background(), client.CredentialsRequest{Profile: "prod-denied"}, client.FormatCredentialProcess)
	var e *client.Error
	if errors.As(err, &e) {
		fmt.Println(e.Status, e.Code, e.Message)
	}
	_, err = c.Credentials(context.Background(), client.CredentialsRequest{Profile: "prod-admin"}, client.FormatCredentialProcess)
	if errors.As(err, &e) && e.Code == client.CodeApprovalRequired {
		fmt.Println(e.Code, len(e.ApprovalID))
	}
	// Output:
	// 403 policy_denied Nobody uses prod-denied
	// approval_required 32
}

// Health needs only a signed request.
func ExampleClient_Health() {
	url, stop := tvm()
	defer stop()

	c, err := client.New(url, client.WithRegion("us-east-1"), client.WithCredentials(callerCredentials))
	if err != nil {
		log.Fatal(err)
	}
	h, err := c.Health(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(h.Status, h.Version, len(h.PolicySHA256))
	// Output: ok clienttest 64
}
