// Command package builds the Lambda handler zip: `go run ./tools/package
// -arch arm64 -o handler.zip` builds ./lambda/tvm as `bootstrap` and writes
// a zip holding only that file, then prints the zip's sha256 in base64
// (what aws_lambda_function's source_code_hash expects). `make provider`
// embeds its zips in the Terraform provider, `make dist` publishes them.
// `-file BIN -name ENTRY -o OUT.zip` zips an existing executable the same
// way instead (`make dist` packs the provider's release zips with it).
//
// The build is reproducible: CGO_ENABLED=0, -trimpath, -buildvcs=false,
// -ldflags "-s -w", the lambda.norpc tag (see buildTags), a fixed
// GOARM64/GOAMD64 level and the caller's GOFLAGS ignored; the zip has one
// entry with a fixed timestamp and mode. The same sources and Go version
// give the same bytes on any machine and from any checkout path; go.mod's
// toolchain line pins the Go version.
package main

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/sentinel-tvm/sentinel-tvm/internal/provider/lambdazip"
)

// buildTags leaves aws-lambda-go's net/rpc mode (only the retired go1.x
// runtime used it; provided.al2023 speaks the Runtime API) out of the
// bootstrap. net/rpc calls reflect.Value.MethodByName, which makes the
// linker keep every exported method of every reachable type: with it the
// stripped arm64 bootstrap is 23.4 MiB, without it 13.2 MiB (the size
// target of docs/benchmarks.md is 20 MB). The Makefile, and the tests that build the bootstrap,
// use the same tag; TestBootstrapKeepsDeadMethodElimination checks this one.
const buildTags = "lambda.norpc"

// zipTime is every entry's timestamp: the earliest a zip (DOS) time can say.
var zipTime = time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)

func main() {
	if err := run(os.Args[1:], os.Stdout, "."); err != nil {
		fmt.Fprintln(os.Stderr, "package:", err)
		os.Exit(1)
	}
}

// run builds the handler in the module at moduleDir as the arguments ask.
func run(args []string, stdout io.Writer, moduleDir string) error {
	fs := flag.NewFlagSet("package", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	arch := fs.String("arch", "", "arm64 or amd64")
	out := fs.String("o", "", "the zip to write")
	file := fs.String("file", "", "zip this executable instead of building the bootstrap")
	entry := fs.String("name", "", "the entry name for -file")
	const usage = "usage: package -arch arm64|amd64 -o FILE.zip, or package -file BIN -name ENTRY -o FILE.zip"
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%v (%s)", err, usage)
	}
	if fs.NArg() != 0 {
		return fmt.Errorf("unexpected arguments %q (%s)", fs.Args(), usage)
	}
	if *out == "" {
		return errors.New("-o FILE.zip is required")
	}
	if *file != "" {
		if *arch != "" || *entry == "" || strings.ContainsAny(*entry, `/\`) {
			return fmt.Errorf("-file needs -name ENTRY (a plain file name) and no -arch (%s)", usage)
		}
		bin, err := os.ReadFile(*file)
		if err != nil {
			return err
		}
		return writeZip(stdout, *out, *entry, bin)
	}
	if *arch != "arm64" && *arch != "amd64" {
		return fmt.Errorf(`-arch must be "arm64" or "amd64", got %q`, *arch)
	}
	tmp, err := os.MkdirTemp("", "sentinel-tvm-package-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	bootstrap := filepath.Join(tmp, "bootstrap")
	if err := buildBootstrap(moduleDir, *arch, bootstrap, nil); err != nil {
		return err
	}
	bin, err := os.ReadFile(bootstrap)
	if err != nil {
		return err
	}
	return writeZip(stdout, *out, "bootstrap", bin)
}

// writeZip writes a zip of bin as entry to out and prints its sha256 in
// base64.
func writeZip(stdout io.Writer, out, entry string, bin []byte) error {
	zipped, err := zipFile(entry, bin)
	if err != nil {
		return err
	}
	if err := lambdazip.WriteAtomic(out, zipped); err != nil {
		return err
	}
	sum := sha256.Sum256(zipped)
	_, err = fmt.Fprintln(stdout, base64.StdEncoding.EncodeToString(sum[:]))
	return err
}

// buildBootstrap runs go build for linux/arch in moduleDir; extraEnv is
// appended to the environment (tests use it for a fresh GOCACHE).
func buildBootstrap(moduleDir, arch, out string, extraEnv []string) error {
	cmd := exec.Command("go", "build", "-trimpath", "-buildvcs=false", "-tags="+buildTags, "-ldflags=-s -w", "-o", out, "./lambda/tvm")
	cmd.Dir = moduleDir
	cmd.Env = append(os.Environ(),
		"CGO_ENABLED=0", "GOOS=linux", "GOARCH="+arch,
		"GOARM64=v8.0", "GOAMD64=v1", // the baseline level: no machine-dependent default
		"GOFLAGS=", // the caller's flags (-race, -cover, ...) would change the binary
		"GOEXPERIMENT=",
	)
	cmd.Env = append(cmd.Env, extraEnv...)
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build ./lambda/tvm (GOARCH=%s): %v\n%s", arch, err, stderr.String())
	}
	return nil
}

// zipBootstrap returns a zip with one entry, bootstrap, executable, with a
// fixed timestamp: the same binary gives the same bytes.
func zipBootstrap(bin []byte) ([]byte, error) { return zipFile("bootstrap", bin) }

// zipFile returns a zip with one executable entry with a fixed timestamp.
func zipFile(name string, bin []byte) ([]byte, error) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	h := &zip.FileHeader{Name: name, Method: zip.Deflate, Modified: zipTime}
	h.SetMode(0o755)
	w, err := zw.CreateHeader(h)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(bin); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
