// Package apikey makes and checks the API keys of Latchkey's /api/v1
// routes. A key reads "lk_<id>_<secret>"; only a SHA-256 hash of the secret
// is stored, the id finds the row, and the whole key is shown once.
package apikey

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"time"

	"github.com/latchkey/latchkey/pkg/latchkey"
)

const prefix = "lk_"

// EnvName is the name of the admin key given through the environment
// variable of that name. That key is held in memory only, valid while the
// variable holds it; stored keys cannot take the name, so that a server
// starting can tell the keys earlier versions stored from the variable
// (which it revokes) from every other.
const EnvName = "LATCHKEY_ADMIN_API_KEY"

// Generate makes a new API key with the given scope (latchkey.ScopeAdmin, or
// latchkey.ScopeRuntime bound to app). It returns the record to store and
// the key to hand to its owner, once.
func Generate(scope, app, name string, now time.Time) (latchkey.APIKey, string, error) {
	switch {
	case scope == latchkey.ScopeAdmin && app != "":
		return latchkey.APIKey{}, "", latchkey.Errorf(latchkey.EINVALID, "an admin key is not bound to an app")
	case scope == latchkey.ScopeRuntime && !latchkey.ValidName(app):
		return latchkey.APIKey{}, "", latchkey.Errorf(latchkey.EINVALID, "a runtime key must name the app it reads")
	case scope != latchkey.ScopeAdmin && scope != latchkey.ScopeRuntime:
		return latchkey.APIKey{}, "", latchkey.Errorf(latchkey.EINVALID, "scope must be %q or %q", latchkey.ScopeAdmin, latchkey.ScopeRuntime)
	}
	if name == EnvName {
		return latchkey.APIKey{}, "", &latchkey.Error{Code: latchkey.EINVALID, Message: "the key's name is reserved",
			Fields: []latchkey.FieldError{{Field: "name", Message: "is reserved for the key of the environment variable " + EnvName}}}
	}
	idb := make([]byte, 8)
	secret := make([]byte, 32)
	if _, err := rand.Read(idb); err != nil {
		return latchkey.APIKey{}, "", err
	}
	if _, err := rand.Read(secret); err != nil {
		return latchkey.APIKey{}, "", err
	}
	id := hex.EncodeToString(idb)
	s := base64.RawURLEncoding.EncodeToString(secret)
	key := latchkey.APIKey{ID: id, Name: name, Scope: scope, App: app, Hash: Hash(s), CreatedAt: now.UTC()}
	return key, prefix + id + "_" + s, nil
}

// FromSecret makes the record of an API key chosen by an operator (such as
// LATCHKEY_ADMIN_API_KEY). Its id is derived from it, so that the same key
// given at every start maps to one row.
func FromSecret(full, scope, name string, now time.Time) (latchkey.APIKey, error) {
	if len(full) < 16 {
		return latchkey.APIKey{}, latchkey.Errorf(latchkey.EINVALID, "an API key must be at least 16 characters long")
	}
	if id, secret, ok := Parse(full); ok {
		return latchkey.APIKey{ID: id, Name: name, Scope: scope, Hash: Hash(secret), CreatedAt: now.UTC()}, nil
	}
	sum := sha256.Sum256([]byte(full))
	return latchkey.APIKey{ID: "op" + hex.EncodeToString(sum[:7]), Name: name, Scope: scope, Hash: Hash(full), CreatedAt: now.UTC()}, nil
}

// Parse splits a key into its id and secret. A key chosen by an operator in
// another form has the id FromSecret derives and the whole key as secret.
func Parse(full string) (id, secret string, ok bool) {
	if rest, found := strings.CutPrefix(full, prefix); found {
		id, secret, ok = strings.Cut(rest, "_")
		if ok && id != "" && secret != "" {
			return id, secret, true
		}
	}
	if len(full) >= 16 {
		sum := sha256.Sum256([]byte(full))
		return "op" + hex.EncodeToString(sum[:7]), full, true
	}
	return "", "", false
}

// Hash returns the stored form of a key's secret.
func Hash(secret string) []byte {
	sum := sha256.Sum256([]byte(secret))
	return sum[:]
}

// Verify reports, in constant time, whether secret belongs to key.
func Verify(key latchkey.APIKey, secret string) bool {
	return subtle.ConstantTimeCompare(key.Hash, Hash(secret)) == 1
}
