package secretbox_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/latchkey/latchkey/pkg/secretbox"
)

// TestWriteKeyFileThenLoad writes a key file with a new primary before the
// old key, as a rotation does, reads it back in order, and leaves no
// temporary file behind.
func TestWriteKeyFileThenLoad(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "encryption.key")
	old, err := secretbox.LoadOrCreateKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	fresh := newKey(t)
	if err := secretbox.WriteKeyFile(path, append([]secretbox.Key{fresh}, old...)); err != nil {
		t.Fatal(err)
	}
	got, err := secretbox.LoadKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].ID != fresh.ID || got[1].ID != old[0].ID {
		t.Fatalf("got keys %v, want [%s %s]", ids(got), fresh.ID, old[0].ID)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600 {
		t.Fatalf("got mode %o, want 600", fi.Mode().Perm())
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("got %d files in the folder, want only the key file", len(entries))
	}

	// Nothing is written for no keys or a bad key, and the file stays.
	for _, keys := range [][]secretbox.Key{nil, {{ID: "short", Secret: []byte("x")}}} {
		if err := secretbox.WriteKeyFile(path, keys); err == nil {
			t.Fatalf("WriteKeyFile(%d bad keys): got no error, want one", len(keys))
		}
	}
	if again, err := secretbox.LoadKeyFile(path); err != nil || len(again) != 2 {
		t.Fatalf("after refused writes: got %d keys, %v, want the 2 keys kept", len(again), err)
	}
}

// TestLoadKeyFileNeverCreates: a missing key file is an error, not a new key.
func TestLoadKeyFileNeverCreates(t *testing.T) {
	path := filepath.Join(t.TempDir(), "encryption.key")
	if _, err := secretbox.LoadKeyFile(path); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("got %v, want fs.ErrNotExist", err)
	}
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("LoadKeyFile created the file: stat got %v", err)
	}
}

func ids(keys []secretbox.Key) []string {
	var out []string
	for _, k := range keys {
		out = append(out, k.ID)
	}
	return out
}
