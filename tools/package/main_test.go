package main

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const moduleDir = "../.."

// TestReproducibleZip builds the handler twice, the second time with an
// empty build cache (as on another machine), and wants identical zip bytes.
func TestReproducibleZip(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the handler twice, once without a build cache")
	}
	dir := t.TempDir()
	first := filepath.Join(dir, "first.zip")
	var out bytes.Buffer
	if err := run(strings.NewReader(`{"arch": "arm64", "out": "`+first+`"}`), &out, moduleDir); err != nil {
		t.Fatal(err)
	}
	var got map[string]string
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatalf("output %q: %v", out.String(), err)
	}
	zip1, err := os.ReadFile(first)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(zip1)
	if want := base64.StdEncoding.EncodeToString(sum[:]); got["sha256_base64"] != want || got["path"] != first {
		t.Errorf("output %v, want path %s and sha256_base64 %s", got, first, want)
	}

	bootstrap := filepath.Join(dir, "bootstrap")
	if err := buildBootstrap(moduleDir, "arm64", bootstrap, []string{"GOCACHE=" + filepath.Join(dir, "gocache")}); err != nil {
		t.Fatal(err)
	}
	bin, err := os.ReadFile(bootstrap)
	if err != nil {
		t.Fatal(err)
	}
	zip2, err := zipBootstrap(bin)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(zip1, zip2) {
		t.Fatalf("two builds differ: %d bytes (sha256 %x) and %d bytes (sha256 %x)", len(zip1), sha256.Sum256(zip1), len(zip2), sha256.Sum256(zip2))
	}
	checkZip(t, zip1)
}

// checkZip wants exactly one entry, bootstrap, executable, at zipTime.
func checkZip(t *testing.T, b []byte) {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	if len(zr.File) != 1 {
		t.Fatalf("%d entries, want 1", len(zr.File))
	}
	f := zr.File[0]
	if f.Name != "bootstrap" || f.Mode() != 0o755 || !f.Modified.Equal(zipTime) {
		t.Errorf("entry %s mode %v modified %v, want bootstrap -rwxr-xr-x %v", f.Name, f.Mode(), f.Modified, zipTime)
	}
	rc, err := f.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	head := make([]byte, 4)
	if _, err := io.ReadFull(rc, head); err != nil || string(head) != "\x7fELF" {
		t.Errorf("bootstrap starts %q (%v), want an ELF binary", head, err)
	}
}

func TestZipBootstrapIsDeterministic(t *testing.T) {
	a, err := zipBootstrap([]byte("binary"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := zipBootstrap([]byte("binary"))
	if !bytes.Equal(a, b) {
		t.Error("the same input gave two different zips")
	}
}

func TestRunRejectsBadQueries(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
	}{
		{"not JSON", `nope`, `expected {"arch"`},
		{"bad arch", `{"arch": "x86_64", "out": "/tmp/x.zip"}`, `"arch" must be "arm64" or "amd64", got "x86_64"`},
		{"relative out", `{"arch": "arm64", "out": "x.zip"}`, `"out" must be an absolute path, got "x.zip"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := run(strings.NewReader(tc.in), io.Discard, moduleDir)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// TestBootstrapKeepsDeadMethodElimination: the bootstrap, built as it is
// deployed (GOOS=linux, buildTags), links no package that calls
// reflect.Value.MethodByName with a computed name (net/rpc, text/template,
// html/template). One such package makes the linker keep every exported
// method of every reachable type (all of each AWS SDK client's
// operations): 23.4 MiB instead of 13.2 MiB stripped on arm64, past issue
// 8's 20 MB target.
func TestBootstrapKeepsDeadMethodElimination(t *testing.T) {
	cmd := exec.Command("go", "list", "-deps", "-tags="+buildTags, "./lambda/tvm")
	cmd.Dir = moduleDir
	cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH=arm64", "CGO_ENABLED=0")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	deps := strings.Fields(string(out))
	if !slices.Contains(deps, "github.com/aws/aws-lambda-go/lambda") {
		t.Fatalf("go list -deps found no aws-lambda-go: %v", deps)
	}
	for _, bad := range []string{"net/rpc", "text/template", "html/template"} {
		if slices.Contains(deps, bad) {
			t.Errorf("the bootstrap links %s, which disables the linker's dead method elimination", bad)
		}
	}
}
