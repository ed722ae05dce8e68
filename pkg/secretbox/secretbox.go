package secretbox

import (
	"bufio"
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
)

// KeySize is the length of a key's secret in bytes (AES-256).
const KeySize = 32

// version is the prefix of every ciphertext this package writes.
const version = "v1"

// Key is one named AES-256 key. Secret is 32 bytes.
type Key struct {
	ID     string
	Secret []byte
}

var keyIDRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// GenerateKey returns a new random key with a random id.
func GenerateKey() (Key, error) {
	secret := make([]byte, KeySize)
	if _, err := rand.Read(secret); err != nil {
		return Key{}, fmt.Errorf("secretbox: cannot generate a key: %w", err)
	}
	id := make([]byte, 4)
	if _, err := rand.Read(id); err != nil {
		return Key{}, fmt.Errorf("secretbox: cannot generate a key id: %w", err)
	}
	return Key{ID: "k" + hex.EncodeToString(id), Secret: secret}, nil
}

// String returns the key as "id:base64" (standard encoding), the form
// ParseKeys reads. It is the secret itself: never log it.
func (k Key) String() string {
	return k.ID + ":" + base64.StdEncoding.EncodeToString(k.Secret)
}

// ParseKeys reads a comma-separated list of keys, "id1:base64,id2:base64",
// each secret 32 bytes in standard or URL base64, padded or not. A bare
// base64 key without "id:" gets an id derived from a hash of the secret, so
// that the same key always has the same id. The first key is the primary.
// Errors name the key by its position and id, never by its secret.
func ParseKeys(s string) ([]Key, error) {
	var keys []Key
	seen := map[string]bool{}
	for i, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		k, err := parseKey(part)
		if err != nil {
			return nil, fmt.Errorf("secretbox: key %d: %w", i+1, err)
		}
		if seen[k.ID] {
			return nil, fmt.Errorf("secretbox: key %d: duplicate key id %q", i+1, k.ID)
		}
		seen[k.ID] = true
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return nil, errors.New("secretbox: no key given")
	}
	return keys, nil
}

func parseKey(s string) (Key, error) {
	id, b64, found := strings.Cut(s, ":")
	if !found {
		b64, id = s, ""
	}
	if found && !keyIDRE.MatchString(id) {
		return Key{}, errors.New("the key id must be 1 to 64 letters, digits, '-' or '_'")
	}
	secret, err := decodeBase64(b64)
	if err != nil {
		return Key{}, errors.New("the key is not valid base64")
	}
	if len(secret) != KeySize {
		return Key{}, fmt.Errorf("the key must be %d bytes, got %d", KeySize, len(secret))
	}
	if id == "" {
		sum := sha256.Sum256(secret)
		id = "h" + hex.EncodeToString(sum[:4])
	}
	return Key{ID: id, Secret: secret}, nil
}

func decodeBase64(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return b, nil
		}
	}
	return nil, errors.New("not base64")
}

// LoadOrCreateKeyFile reads the keys of a key file, one "id:base64" per line
// (blank lines and lines starting with '#' are skipped), the first being the
// primary. When the file does not exist it creates its parent folders (mode
// 0700) and the file (mode 0600) holding one new key, and returns that key.
//
// Like ssh with a private key, it refuses (on systems with Unix permissions)
// a key file that its group or other users may read or write: the error says
// to chmod it 600. Keys kept by a secrets manager, whose mounted files are
// often readable by all, are better given to ParseKeys from the environment.
func LoadOrCreateKeyFile(path string) ([]Key, error) {
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return createKeyFile(path)
	}
	if err != nil {
		return nil, fmt.Errorf("secretbox: reading the key file: %w", err)
	}
	return readKeyFile(path, fi)
}

// LoadKeyFile reads the keys of an existing key file, as LoadOrCreateKeyFile
// does, but never creates one: a missing file is an error (fs.ErrNotExist).
// A server that reloads its key file uses it, so that a file deleted by
// mistake does not become a new key.
func LoadKeyFile(path string) ([]Key, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("secretbox: reading the key file: %w", err)
	}
	return readKeyFile(path, fi)
}

func readKeyFile(path string, fi fs.FileInfo) ([]Key, error) {
	if perm := fi.Mode().Perm(); runtime.GOOS != "windows" && perm&0o077 != 0 {
		return nil, fmt.Errorf("secretbox: key file %s is open to other users (mode %o); make it private with chmod 600", path, perm)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("secretbox: reading the key file: %w", err)
	}
	var parts []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		parts = append(parts, line)
	}
	keys, err := ParseKeys(strings.Join(parts, ","))
	if err != nil {
		return nil, fmt.Errorf("key file %s: %w", path, err)
	}
	return keys, nil
}

// WriteKeyFile replaces the key file at path with keys, one per line, the
// first being the primary. It writes a temporary file (mode 0600) in the same
// folder, syncs it and renames it over path, so that a reader sees the old
// file or the new one, never a part of either.
func WriteKeyFile(path string, keys []Key) error {
	if len(keys) == 0 {
		return errors.New("secretbox: a key file needs at least one key")
	}
	if _, err := NewKeyring(keys...); err != nil {
		return err
	}
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k.String() + "\n")
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("secretbox: writing the key file: %w", err)
	}
	tmp := f.Name()
	err = f.Chmod(0o600)
	if err == nil {
		_, err = f.WriteString(b.String())
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("secretbox: writing the key file: %w", err)
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		d.Sync() // make the rename durable; not every system can sync a folder
		d.Close()
	}
	return nil
}

func createKeyFile(path string) ([]Key, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("secretbox: creating the key file's folder: %w", err)
	}
	k, err := GenerateKey()
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		// Another process created it first: use its key.
		return LoadOrCreateKeyFile(path)
	}
	if err != nil {
		return nil, fmt.Errorf("secretbox: creating the key file: %w", err)
	}
	_, err = f.WriteString(k.String() + "\n")
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return nil, fmt.Errorf("secretbox: writing the key file: %w", err)
	}
	return []Key{k}, nil
}

// Keyring encrypts with its primary key and decrypts with any of its keys.
// It is safe for concurrent use.
type Keyring struct {
	primary string
	aeads   map[string]cipher.AEAD
}

// NewKeyring returns a keyring whose first key encrypts and whose keys all
// decrypt. It refuses no keys, a key that is not 32 bytes, an invalid id and
// duplicate ids.
func NewKeyring(keys ...Key) (*Keyring, error) {
	if len(keys) == 0 {
		return nil, errors.New("secretbox: a keyring needs at least one key")
	}
	r := &Keyring{primary: keys[0].ID, aeads: make(map[string]cipher.AEAD, len(keys))}
	for i, k := range keys {
		if !keyIDRE.MatchString(k.ID) {
			return nil, fmt.Errorf("secretbox: key %d: the key id must be 1 to 64 letters, digits, '-' or '_'", i+1)
		}
		if _, dup := r.aeads[k.ID]; dup {
			return nil, fmt.Errorf("secretbox: duplicate key id %q", k.ID)
		}
		if len(k.Secret) != KeySize {
			return nil, fmt.Errorf("secretbox: key %q must be %d bytes, got %d", k.ID, KeySize, len(k.Secret))
		}
		block, err := aes.NewCipher(k.Secret)
		if err != nil {
			return nil, fmt.Errorf("secretbox: key %q: %w", k.ID, err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("secretbox: key %q: %w", k.ID, err)
		}
		r.aeads[k.ID] = aead
	}
	return r, nil
}

// PrimaryID returns the id of the key that encrypts.
func (k *Keyring) PrimaryID() string { return k.primary }

// Encrypt seals plaintext under the primary key with a fresh random 96-bit
// nonce, binding it to ad (associated data, authenticated but not stored),
// and returns "v1.<key id>.<base64url(nonce||ciphertext)>".
func (k *Keyring) Encrypt(plaintext, ad []byte) (string, error) {
	aead := k.aeads[k.primary]
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plaintext)+aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return "", fmt.Errorf("secretbox: cannot read a nonce: %w", err)
	}
	sealed := aead.Seal(nonce, nonce, plaintext, ad)
	return version + "." + k.primary + "." + base64.RawURLEncoding.EncodeToString(sealed), nil
}

// Decrypt opens a ciphertext written by Encrypt with the same associated
// data. It fails with a clear error on an unknown version, an unknown key id
// or a failed authentication: a tampered value, or one bound to other
// associated data (copied from another row).
func (k *Keyring) Decrypt(ciphertext string, ad []byte) ([]byte, error) {
	id, sealed, err := k.split(ciphertext)
	if err != nil {
		return nil, err
	}
	aead, ok := k.aeads[id]
	if !ok {
		return nil, fmt.Errorf("secretbox: unknown key id %q", id)
	}
	if len(sealed) < aead.NonceSize()+aead.Overhead() {
		return nil, errors.New("secretbox: the ciphertext is too short")
	}
	ns := aead.NonceSize()
	plain, err := aead.Open(nil, sealed[:ns], sealed[ns:], ad)
	if err != nil {
		return nil, fmt.Errorf("secretbox: authentication failed under key %q: the value was altered or belongs to another row", id)
	}
	return plain, nil
}

func (k *Keyring) split(ciphertext string) (id string, sealed []byte, err error) {
	ver, rest, ok := strings.Cut(ciphertext, ".")
	if !ok {
		return "", nil, errors.New("secretbox: not a ciphertext")
	}
	if ver != version {
		return "", nil, fmt.Errorf("secretbox: unknown ciphertext version %q", truncate(ver))
	}
	id, body, ok := strings.Cut(rest, ".")
	if !ok || id == "" {
		return "", nil, errors.New("secretbox: the ciphertext has no key id")
	}
	sealed, err = base64.RawURLEncoding.DecodeString(body)
	if err != nil {
		return "", nil, errors.New("secretbox: the ciphertext is not valid base64url")
	}
	return id, sealed, nil
}

func truncate(s string) string {
	if len(s) > 8 {
		return s[:8] + "…"
	}
	return s
}

// KeyID returns the id of the key a ciphertext was encrypted under, or ""
// when it is not a ciphertext of a known version.
func KeyID(ciphertext string) string {
	ver, rest, ok := strings.Cut(ciphertext, ".")
	if !ok || ver != version {
		return ""
	}
	id, _, ok := strings.Cut(rest, ".")
	if !ok {
		return ""
	}
	return id
}

// NeedsRotation reports whether ciphertext was encrypted under a key other
// than the primary (or cannot be read as a ciphertext at all), and so should
// be re-encrypted.
func (k *Keyring) NeedsRotation(ciphertext string) bool {
	return KeyID(ciphertext) != k.primary
}
