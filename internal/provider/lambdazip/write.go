package lambdazip

import (
	"errors"
	"os"
	"path/filepath"
)

// WriteAtomic writes the zip data to path (mode 0644, creating its
// directory) through a temporary file in the same directory, so a reader
// never sees half a zip. tools/package writes the zips with it, the
// provider's data source the zip it hands out.
func WriteAtomic(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".handler-*.zip")
	if err != nil {
		return err
	}
	_, werr := f.Write(data)
	cerr := f.Close()
	if err := errors.Join(werr, cerr); err != nil {
		os.Remove(f.Name())
		return err
	}
	if err := os.Chmod(f.Name(), 0o644); err != nil {
		os.Remove(f.Name())
		return err
	}
	return os.Rename(f.Name(), path)
}
