// Command sentinel-tvm is the Sentinel TVM command line: the policy
// compiler and test runner, and (later) the local service and clients.
package main

import (
	"os"

	"github.com/sentinel-tvm/sentinel-tvm/internal/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
