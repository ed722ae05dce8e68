//go:build !no_ui

package ui

import (
	"bytes"
	"compress/gzip"
	"io"
	"io/fs"
	"testing"
)

// bundleBudget is the most the built UI may weigh, gzipped: issue 17's
// ceiling, so that the first screen loads fast on a slow link.
const bundleBudget = 150 << 10

// TestBundleStaysUnderItsBudget weighs every built file as a browser
// downloads it (gzipped) and fails when the whole UI is over the budget.
func TestBundleStaysUnderItsBudget(t *testing.T) {
	total := 0
	err := fs.WalkDir(DistDirFS, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		f, err := DistDirFS.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		if _, err := io.Copy(zw, f); err != nil {
			return err
		}
		if err := zw.Close(); err != nil {
			return err
		}
		t.Logf("%s: %d bytes gzipped", path, buf.Len())
		total += buf.Len()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if total == 0 {
		t.Fatal("dist/ is empty: build the UI (npm ci && npm run build in ui/)")
	}
	if total > bundleBudget {
		t.Errorf("the built UI weighs %d KB gzipped, over its budget of %d KB", total>>10, bundleBudget>>10)
	}
}
