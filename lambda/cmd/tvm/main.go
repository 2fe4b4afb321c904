// Command tvm is the Sentinel TVM Lambda function (built as `bootstrap` for
// the provided.al2023 runtime). It only wires: configuration from the
// environment, AWS clients, then the handler. Init makes no network call.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/config"

	"github.com/sentinel-tvm/sentinel-tvm/lambda/vend"
)

func main() {
	cfg, err := vend.ConfigFromEnv(os.Getenv)
	if err != nil {
		fmt.Fprintln(os.Stderr, "sentinel-tvm:", err)
		os.Exit(1)
	}
	awsCfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, "sentinel-tvm: AWS configuration:", err)
		os.Exit(1)
	}
	log := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	svc, err := vend.New(cfg, vend.NewAWSDeps(awsCfg, cfg, log, os.Stdout))
	if err != nil {
		fmt.Fprintln(os.Stderr, "sentinel-tvm:", err)
		os.Exit(1)
	}
	lambda.Start(svc.HandleJSON)
}
