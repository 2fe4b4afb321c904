package cli

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// TestConnectionFlagsAreOneSet: every command that calls the TVM has the
// same --url, --region and --source-profile flags, and every one that
// prints the service's answer has --json, so a script can switch commands
// without relearning how to connect.
func TestConnectionFlagsAreOneSet(t *testing.T) {
	var want clientOptions
	wantFlags := cobra.Command{}
	want.register(wantFlags.Flags())

	// The commands that vend print credentials, not the service's answer.
	noJSON := map[string]bool{"sentinel-tvm credentials": true, "sentinel-tvm agent": true, "sentinel-tvm exec": true}
	// The commands that do not call the TVM.
	offline := map[string]bool{"sentinel-tvm dev": true}

	var walk func(c *cobra.Command)
	n := 0
	walk = func(c *cobra.Command) {
		if c.HasSubCommands() {
			for _, sub := range c.Commands() {
				walk(sub)
			}
			return
		}
		path := c.CommandPath()
		if offline[path] || c.Parent().Name() == "policy" || c.Name() == "help" || c.Name() == "completion" {
			return
		}
		n++
		for _, name := range []string{"url", "region", "source-profile", "json"} {
			got, w := c.Flags().Lookup(name), wantFlags.Flags().Lookup(name)
			switch {
			case name == "json" && noJSON[path]:
				if got != nil {
					t.Errorf("%s has --json, but prints no service answer", path)
				}
			case got == nil:
				t.Errorf("%s has no --%s: build it with clientCommand or register clientOptions", path, name)
			case got.Usage != w.Usage || got.DefValue != w.DefValue:
				t.Errorf("%s --%s is %q (default %q), want the shared %q", path, name, got.Usage, got.DefValue, w.Usage)
			}
		}
	}
	walk(rootCommand())
	if n < 10 {
		t.Fatalf("checked %d commands, want every command that calls the TVM", n)
	}
}

// TestFinish: one error type carries the exit code and the line; Main
// prints the line once, in the form its code calls for.
func TestFinish(t *testing.T) {
	for _, tc := range []struct {
		name       string
		err        error
		wantCode   int
		wantStderr string
	}{
		{"success", nil, ExitOK, ""},
		{"usage", usagef("--url is required"), ExitUsage, "Error: --url is required\nRun 'sentinel-tvm x --help' for usage.\n"},
		{"failure", failf("approval %s is denied", "ID"), ExitFailure, "sentinel-tvm: approval ID is denied\n"},
		{"refusal wrapped", fmt.Errorf("listing: %w", refusal(errors.New("client: dial tcp: refused"))), ExitFailure, "sentinel-tvm: dial tcp: refused\n"},
		{"already said", exitError{code: 127}, 127, ""},
		{"child's line", exitError{126, "ls: permission denied"}, 126, "sentinel-tvm: ls: permission denied\n"},
		{"cobra usage", errors.New(`unknown flag: --nope`), ExitUsage, "Error: unknown flag: --nope\nRun 'sentinel-tvm x --help' for usage.\n"},
		{"any other error", errors.New("serve:\n  address in use"), ExitFailure, "sentinel-tvm: serve: address in use\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stderr strings.Builder
			if code := finish(&stderr, "sentinel-tvm x", tc.err); code != tc.wantCode || stderr.String() != tc.wantStderr {
				t.Errorf("finish = %d, stderr %q; want %d, %q", code, stderr.String(), tc.wantCode, tc.wantStderr)
			}
		})
	}
}
