package secretbox_test

import (
	"bytes"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/pkg/secretbox"
)

// benchToken is a typical access token: 64 bytes of base64url text, the
// size of most providers' opaque tokens.
var benchToken = []byte(strings.Repeat("xoxp-4f9Aq_2Zr8L", 4))

// benchAD is the associated data the store binds a user's access token to:
// the JSON array of its row's parts (sqlstore's valueAD).
var benchAD = []byte(`["value","capacity","acme","u-42","access_token"]`)

// benchPrefix stands for the "v1.<key id>." that every ciphertext carries,
// so that the baselines build strings of the same shape.
const benchPrefix = "v1.k0123abcd."

func benchRing(b *testing.B) *secretbox.Keyring {
	b.Helper()
	k, err := secretbox.GenerateKey()
	if err != nil {
		b.Fatal(err)
	}
	ring, err := secretbox.NewKeyring(k)
	if err != nil {
		b.Fatal(err)
	}
	return ring
}

// BenchmarkEncrypt seals a 64-byte token with its associated data, beside a
// baseline that does everything but the cipher: copy the bytes into a new
// buffer of the sealed size and base64url-encode them behind the prefix.
// The ratio is what AES-256-GCM and the random nonce add to a write.
func BenchmarkEncrypt(b *testing.B) {
	b.Run("baseline=copy+base64", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(benchToken)))
		var out string
		for b.Loop() {
			buf := make([]byte, 12, 12+len(benchToken)+16)
			buf = append(buf, benchToken...)
			buf = buf[:cap(buf)]
			out = benchPrefix + base64.RawURLEncoding.EncodeToString(buf)
		}
		if len(out) == 0 {
			b.Fatal("got an empty value")
		}
	})
	b.Run("secretbox", func(b *testing.B) {
		ring := benchRing(b)
		b.ReportAllocs()
		b.SetBytes(int64(len(benchToken)))
		var out string
		for b.Loop() {
			var err error
			if out, err = ring.Encrypt(benchToken, benchAD); err != nil {
				b.Fatal(err)
			}
		}
		if pt, err := ring.Decrypt(out, benchAD); err != nil || !bytes.Equal(pt, benchToken) {
			b.Fatalf("got %q, %v back, want the token", pt, err)
		}
	})
}

// BenchmarkDecrypt opens a sealed 64-byte token, beside a baseline that
// does everything but the cipher: cut the prefix, base64url-decode and copy
// the plaintext out. The ratio is what authentication and decryption add to
// a read.
func BenchmarkDecrypt(b *testing.B) {
	b.Run("baseline=base64+copy", func(b *testing.B) {
		buf := make([]byte, 12, 12+len(benchToken)+16)
		buf = append(buf, benchToken...)
		buf = buf[:cap(buf)]
		in := benchPrefix + base64.RawURLEncoding.EncodeToString(buf)
		b.ReportAllocs()
		b.SetBytes(int64(len(benchToken)))
		var pt []byte
		for b.Loop() {
			_, body, _ := strings.Cut(strings.TrimPrefix(in, "v1."), ".")
			sealed, err := base64.RawURLEncoding.DecodeString(body)
			if err != nil {
				b.Fatal(err)
			}
			pt = append([]byte(nil), sealed[12:len(sealed)-16]...)
		}
		if !bytes.Equal(pt, benchToken) {
			b.Fatalf("got %q, want the token", pt)
		}
	})
	b.Run("secretbox", func(b *testing.B) {
		ring := benchRing(b)
		in, err := ring.Encrypt(benchToken, benchAD)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		b.SetBytes(int64(len(benchToken)))
		var pt []byte
		for b.Loop() {
			if pt, err = ring.Decrypt(in, benchAD); err != nil {
				b.Fatal(err)
			}
		}
		if !bytes.Equal(pt, benchToken) {
			b.Fatalf("got %q, want the token", pt)
		}
	})
}
