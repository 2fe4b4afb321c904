// Command tfpolicy compiles a policy given as file contents for the
// Terraform module's policy_files input (Terraform's external data source
// protocol): it reads {"files": "<JSON object: file name => HCL>",
// "skip_tests": "true"|"false"} on stdin, writes the files to a temporary
// directory and runs `CLI... policy compile --terraform-external` on it
// (CLI... is the command line given as arguments: a prebuilt sentinel-tvm,
// or `go run ./cmd/sentinel-tvm`), passing its answer and
// diagnostics through with the directory shown as "policy_files/". One
// implementation of the protocol stays in the CLI.
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
)

var fileNameRE = regexp.MustCompile(`^[A-Za-z0-9_.-]+\.hcl$`)

func main() {
	os.Exit(run(os.Stdin, os.Stdout, os.Stderr, os.Args[1:]))
}

func run(stdin io.Reader, stdout, stderr io.Writer, cliCmd []string) int {
	if len(cliCmd) == 0 {
		fmt.Fprintln(stderr, "usage: tfpolicy CLI... (e.g. tfpolicy go run ./cmd/sentinel-tvm) < query.json")
		return 2
	}
	var q map[string]string
	if err := json.NewDecoder(stdin).Decode(&q); err != nil {
		fmt.Fprintf(stderr, "tfpolicy: expected a JSON object of strings on stdin: %v\n", err)
		return 2
	}
	var files map[string]string
	if err := json.Unmarshal([]byte(q["files"]), &files); err != nil || len(files) == 0 {
		fmt.Fprintf(stderr, "tfpolicy: \"files\" must be a JSON object of file name => content with at least one file\n")
		return 2
	}
	dir, err := os.MkdirTemp("", "sentinel-tvm-policy-")
	if err != nil {
		fmt.Fprintln(stderr, "tfpolicy:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	for name, content := range files {
		if !fileNameRE.MatchString(name) {
			fmt.Fprintf(stderr, "tfpolicy: policy file name %q is not a plain name ending in .hcl\n", name)
			return 2
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			fmt.Fprintln(stderr, "tfpolicy:", err)
			return 1
		}
	}
	skip := q["skip_tests"]
	if skip == "" {
		skip = "false"
	}
	in, _ := json.Marshal(map[string]string{"dir": dir, "skip_tests": skip})

	var errBuf bytes.Buffer
	code := 0
	cmd := exec.Command(cliCmd[0], append(cliCmd[1:], "policy", "compile", "--terraform-external")...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = bytes.NewReader(in), stdout, &errBuf
	if err := cmd.Run(); err != nil {
		code = 1
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else {
			fmt.Fprintln(&errBuf, "tfpolicy:", err)
		}
	}
	io.WriteString(stderr, strings.ReplaceAll(errBuf.String(), dir+string(filepath.Separator), "policy_files/"))
	return code
}
