package cli

import (
	"strings"
	"testing"
)

func TestConsoleUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"console", "--url", "http://127.0.0.1:1", "--region", "us-east-1", "--listen", "0.0.0.0:0"}, "loopback IP address only"},
		{[]string{"console", "--url", "http://127.0.0.1:1", "--region", "us-east-1", "--listen", "localhost:0"}, "loopback IP address only"},
		{[]string{"console", "--url", "http://127.0.0.1:1", "--region", "us-east-1", "--listen", "nope"}, "is not HOST:PORT"},
		{[]string{"console", "--url", "http://127.0.0.1:1", "--region", "us-east-1", "--refresh", "10ms"}, "shorter than a second"},
		{[]string{"console", "extra"}, "takes no arguments"},
	} {
		var out, errOut strings.Builder
		clearAWSEnv(t)
		t.Setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE")
		t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
		code := Main(tc.args, nil, &out, &errOut)
		if code != ExitUsage || !strings.Contains(errOut.String(), tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", tc.args, code, errOut.String(), ExitUsage, tc.want)
		}
		if out.Len() != 0 {
			t.Errorf("%v printed %q", tc.args, out.String())
		}
	}
}
