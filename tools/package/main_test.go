package main

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const moduleDir = "../.."

// TestReproducibleZip builds the handler twice: once from this checkout,
// once from a copy of the module at another path with an empty build cache
// (as in another CI workspace on another machine). It wants identical zip
// bytes, so the source_code_hash does not depend on where the module is.
func TestReproducibleZip(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the handler twice, once without a build cache")
	}
	dir := t.TempDir()
	first := filepath.Join(dir, "first.zip")
	var out bytes.Buffer
	if err := run([]string{"-arch", "arm64", "-o", first}, &out, moduleDir); err != nil {
		t.Fatal(err)
	}
	zip1, err := os.ReadFile(first)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(zip1)
	if want := base64.StdEncoding.EncodeToString(sum[:]) + "\n"; out.String() != want {
		t.Errorf("printed %q, want the zip's sha256 in base64 %q", out.String(), want)
	}

	// A second checkout: the packages the bootstrap builds from, at
	// another path.
	other := filepath.Join(dir, "elsewhere", "sentinel-tvm")
	for _, sub := range []string{"client", "internal", "lambda"} {
		if err := os.CopyFS(filepath.Join(other, sub), os.DirFS(filepath.Join(moduleDir, sub))); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"go.mod", "go.sum"} {
		b, err := os.ReadFile(filepath.Join(moduleDir, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(other, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	bootstrap := filepath.Join(dir, "bootstrap")
	if err := buildBootstrap(other, "arm64", bootstrap, []string{"GOCACHE=" + filepath.Join(dir, "gocache")}); err != nil {
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

func TestRunRejectsBadArguments(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"unknown flag", []string{"-arch", "arm64", "-out", "x.zip"}, "flag provided but not defined: -out"},
		{"bad arch", []string{"-arch", "x86_64", "-o", "x.zip"}, `-arch must be "arm64" or "amd64", got "x86_64"`},
		{"no output", []string{"-arch", "arm64"}, "-o FILE.zip is required"},
		{"stray argument", []string{"-arch", "arm64", "-o", "x.zip", "extra"}, `unexpected arguments ["extra"]`},
		{"file without name", []string{"-file", "main.go", "-o", "x.zip"}, "-file needs -name ENTRY"},
		{"file with a path as name", []string{"-file", "main.go", "-name", "a/b", "-o", "x.zip"}, "-file needs -name ENTRY"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := run(tc.args, io.Discard, moduleDir)
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

func TestZipFileNamesTheEntry(t *testing.T) {
	out := filepath.Join(t.TempDir(), "p.zip")
	var printed bytes.Buffer
	if err := run([]string{"-file", "main.go", "-name", "terraform-provider-sentinel_v1.0.0", "-o", out}, &printed, moduleDir); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	if len(zr.File) != 1 || zr.File[0].Name != "terraform-provider-sentinel_v1.0.0" || zr.File[0].Mode() != 0o755 || !zr.File[0].Modified.Equal(zipTime) {
		t.Errorf("entries %v", zr.File)
	}
	sum := sha256.Sum256(b)
	if want := base64.StdEncoding.EncodeToString(sum[:]) + "\n"; printed.String() != want {
		t.Errorf("printed %q, want %q", printed.String(), want)
	}
}
