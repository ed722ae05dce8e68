package secretbox_test

import (
	"bytes"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/pkg/secretbox"
)

func newKey(tb testing.TB) secretbox.Key {
	tb.Helper()
	k, err := secretbox.GenerateKey()
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

func newRing(tb testing.TB, keys ...secretbox.Key) *secretbox.Keyring {
	tb.Helper()
	r, err := secretbox.NewKeyring(keys...)
	if err != nil {
		tb.Fatal(err)
	}
	return r
}

func TestEncryptTwiceDiffers(t *testing.T) {
	r := newRing(t, newKey(t))
	a, err := r.Encrypt([]byte("xoxb-secret"), []byte("ad"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := r.Encrypt([]byte("xoxb-secret"), []byte("ad"))
	if err != nil {
		t.Fatal(err)
	}
	if a == b {
		t.Fatalf("got the same ciphertext twice %q, want a fresh nonce each time", a)
	}
	if strings.Contains(a, "xoxb-secret") {
		t.Fatalf("got the plaintext inside the ciphertext %q", a)
	}
	if want := "v1." + r.PrimaryID() + "."; !strings.HasPrefix(a, want) {
		t.Fatalf("got %q, want prefix %q", a, want)
	}
	for _, c := range []string{a, b} {
		got, err := r.Decrypt(c, []byte("ad"))
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != "xoxb-secret" {
			t.Fatalf("got %q, want %q", got, "xoxb-secret")
		}
	}
}

func TestEmptyPlaintextRoundTrips(t *testing.T) {
	r := newRing(t, newKey(t))
	c, err := r.Encrypt(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := r.Decrypt(c, nil)
	if err != nil || len(got) != 0 {
		t.Fatalf("got %q, %v, want empty, nil", got, err)
	}
}

func TestFlippedByteFails(t *testing.T) {
	r := newRing(t, newKey(t))
	c, err := r.Encrypt([]byte("refresh-token"), []byte("row"))
	if err != nil {
		t.Fatal(err)
	}
	prefix := "v1." + r.PrimaryID() + "."
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(c, prefix))
	if err != nil {
		t.Fatal(err)
	}
	for i := range raw {
		tampered := bytes.Clone(raw)
		tampered[i] ^= 0x01
		_, err := r.Decrypt(prefix+base64.RawURLEncoding.EncodeToString(tampered), []byte("row"))
		if err == nil {
			t.Fatalf("byte %d flipped: got no error, want an authentication failure", i)
		}
		if !strings.Contains(err.Error(), "authentication failed") {
			t.Fatalf("byte %d flipped: got %q, want an authentication failure", i, err)
		}
	}
}

func TestOtherAssociatedDataFails(t *testing.T) {
	r := newRing(t, newKey(t))
	c, err := r.Encrypt([]byte("token"), []byte("value:app/org/alice/access_token"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = r.Decrypt(c, []byte("value:app/org/bob/access_token"))
	if err == nil || !strings.Contains(err.Error(), "another row") {
		t.Fatalf("got %v, want an error saying the value belongs to another row", err)
	}
	if strings.Contains(err.Error(), "token") && !strings.Contains(err.Error(), "authentication") {
		t.Fatalf("error %q echoes the value", err)
	}
}

func TestUnknownVersionAndKeyID(t *testing.T) {
	r := newRing(t, secretbox.Key{ID: "k1", Secret: bytes.Repeat([]byte{1}, 32)})
	c, err := r.Encrypt([]byte("x"), nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = r.Decrypt(strings.Replace(c, "v1.k1.", "v1.k9.", 1), nil)
	if err == nil || !strings.Contains(err.Error(), `unknown key id "k9"`) {
		t.Fatalf("got %v, want an error naming the unknown key id \"k9\"", err)
	}
	_, err = r.Decrypt(strings.Replace(c, "v1.", "v2.", 1), nil)
	if err == nil || !strings.Contains(err.Error(), "unknown ciphertext version") {
		t.Fatalf("got %v, want an unknown version error", err)
	}
	for _, bad := range []string{"", "plain text", "v1.k1.!!!", "v1.k1.AAAA"} {
		if _, err := r.Decrypt(bad, nil); err == nil {
			t.Fatalf("Decrypt(%q): got no error, want one", bad)
		}
	}
}

func TestRotation(t *testing.T) {
	old, next := newKey(t), newKey(t)
	oldRing := newRing(t, old)
	c, err := oldRing.Encrypt([]byte("client-secret"), []byte("app:demo"))
	if err != nil {
		t.Fatal(err)
	}
	if oldRing.NeedsRotation(c) {
		t.Fatalf("got NeedsRotation true under the key that wrote it, want false")
	}
	ring := newRing(t, next, old)
	if ring.PrimaryID() != next.ID {
		t.Fatalf("got primary %q, want %q", ring.PrimaryID(), next.ID)
	}
	got, err := ring.Decrypt(c, []byte("app:demo"))
	if err != nil || string(got) != "client-secret" {
		t.Fatalf("got %q, %v, want the old value under the new ring", got, err)
	}
	if !ring.NeedsRotation(c) {
		t.Fatalf("got NeedsRotation false for a value under the old key, want true")
	}
	c2, err := ring.Encrypt(got, []byte("app:demo"))
	if err != nil {
		t.Fatal(err)
	}
	if ring.NeedsRotation(c2) {
		t.Fatalf("got NeedsRotation true for a value under the primary, want false")
	}
	if _, err := newRing(t, next).Decrypt(c2, []byte("app:demo")); err != nil {
		t.Fatalf("after re-encryption the old key should be droppable: %v", err)
	}
	if _, err := newRing(t, next).Decrypt(c, []byte("app:demo")); err == nil {
		t.Fatalf("got no error decrypting an old value without its key, want one")
	}
}

func TestNewKeyringRefuses(t *testing.T) {
	k := newKey(t)
	cases := map[string][]secretbox.Key{
		"no keys":      nil,
		"duplicate id": {k, {ID: k.ID, Secret: bytes.Repeat([]byte{2}, 32)}},
		"short secret": {{ID: "k1", Secret: []byte("short")}},
		"bad id":       {{ID: "a.b", Secret: bytes.Repeat([]byte{2}, 32)}},
	}
	for name, keys := range cases {
		if _, err := secretbox.NewKeyring(keys...); err == nil {
			t.Errorf("%s: got no error, want one", name)
		}
	}
}

func TestParseKeys(t *testing.T) {
	k1, k2 := newKey(t), newKey(t)
	keys, err := secretbox.ParseKeys(k1.String() + ", " + k2.String())
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 2 || keys[0].ID != k1.ID || !bytes.Equal(keys[1].Secret, k2.Secret) {
		t.Fatalf("got %d keys (first %q), want k1 then k2", len(keys), keys[0].ID)
	}

	// A bare URL-base64 key gets a stable id derived from its hash.
	bare := base64.RawURLEncoding.EncodeToString(k1.Secret)
	a, err := secretbox.ParseKeys(bare)
	if err != nil {
		t.Fatal(err)
	}
	b, err := secretbox.ParseKeys(base64.StdEncoding.EncodeToString(k1.Secret))
	if err != nil {
		t.Fatal(err)
	}
	if a[0].ID == "" || a[0].ID != b[0].ID {
		t.Fatalf("got ids %q and %q, want the same non-empty id for the same key", a[0].ID, b[0].ID)
	}
	if !bytes.Equal(a[0].Secret, k1.Secret) {
		t.Fatalf("got another secret, want the key's")
	}

	short := base64.StdEncoding.EncodeToString([]byte("sixteen byte key"))
	for _, bad := range []string{"", "k1:" + short, "k1:not base64!", "k1:" + bare + ",k1:" + bare, "bad id:" + bare} {
		_, err := secretbox.ParseKeys(bad)
		if err == nil {
			t.Fatalf("ParseKeys(%q): got no error, want one", bad)
		}
		if strings.Contains(err.Error(), bare) || strings.Contains(err.Error(), short) {
			t.Fatalf("error %q echoes the key", err)
		}
	}
}

func TestLoadOrCreateKeyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data", "encryption.key")
	first, err := secretbox.LoadOrCreateKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(first) != 1 || len(first[0].Secret) != secretbox.KeySize {
		t.Fatalf("got %d keys, want one new 32-byte key", len(first))
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != 0o600 {
		t.Fatalf("got key file mode %o, want 600", got)
	}
	di, err := os.Stat(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	if got := di.Mode().Perm(); got != 0o700 {
		t.Fatalf("got folder mode %o, want 700", got)
	}
	again, err := secretbox.LoadOrCreateKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(again) != 1 || again[0].ID != first[0].ID || !bytes.Equal(again[0].Secret, first[0].Secret) {
		t.Fatalf("got another key on the second call, want the stored one reused")
	}

	// A file with a new primary line first and comments keeps both keys.
	next := newKey(t)
	data := "# rotated\n" + next.String() + "\n\n" + first[0].String() + "\n"
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	keys, err := secretbox.LoadOrCreateKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 2 || keys[0].ID != next.ID || keys[1].ID != first[0].ID {
		t.Fatalf("got %d keys, want the new primary then the old key", len(keys))
	}

	// A key file others may read is refused, without echoing its keys.
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = secretbox.LoadOrCreateKeyFile(path)
	if err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("got %v, want a mode 644 key file refused with advice to chmod 600", err)
	}
	if strings.Contains(err.Error(), next.String()) {
		t.Fatalf("error %q echoes the key", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatal(err)
	}

	if err := os.WriteFile(path, []byte("k1:garbage\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := secretbox.LoadOrCreateKeyFile(path); err == nil || strings.Contains(err.Error(), "garbage") {
		t.Fatalf("got %v, want an error that does not echo the key", err)
	}
}
