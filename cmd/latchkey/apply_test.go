package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestApply: latchkey apply creates an app, updates it, prints each field
// of a refused document on its own line, and says when the key is wrong.
func TestApply(t *testing.T) {
	h := startLatchkey(t)
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	bad := filepath.Join(dir, "bad.json")
	doc := "name: notes\nsettings:\n  - {name: access_token, level: user, secret: true}\n"
	if err := os.WriteFile(good, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bad, []byte(`{"name": "broken", "settings": [{"name": "x", "level": "planet"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	apply := func(key string, files ...string) (error, string, string) {
		t.Setenv("LATCHKEY_API_KEY", key)
		args := []string{"apply", "--server", h.main.URL + "/"}
		for _, f := range files {
			args = append(args, "-f", f)
		}
		var stdout, stderr bytes.Buffer
		err := run(context.Background(), args, &stdout, &stderr)
		return err, stdout.String(), stderr.String()
	}

	if err, out, _ := apply(testAdminKey, good); err != nil || out != "app \"notes\" created\n" {
		t.Fatalf("first apply: got %v, %q; want notes created", err, out)
	}
	err, out, errOut := apply(testAdminKey, good, bad)
	if err == nil || !strings.Contains(err.Error(), "1 of 2 documents") || out != "app \"notes\" updated\n" {
		t.Fatalf("second apply: got %v, %q; want notes updated and one of two refused", err, out)
	}
	if !strings.Contains(errOut, bad+": ") || !strings.Contains(errOut, "\n  settings[0].level: ") {
		t.Errorf("the refused document: got stderr %q, want its file and the field settings[0].level on a line of its own", errOut)
	}
	if err, _, errOut := apply("wrong-key-0123456789abcdef", good); err == nil || !strings.Contains(errOut, "unauthorized") {
		t.Errorf("a wrong key: got %v, stderr %q; want unauthorized", err, errOut)
	}
}
