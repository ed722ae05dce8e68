package apikey

import (
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/pkg/latchkey"
)

func TestGeneratedKeyVerifiesAndOthersDoNot(t *testing.T) {
	rec, full, err := Generate(latchkey.ScopeRuntime, "crm", "backend", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(full, "lk_"+rec.ID+"_") {
		t.Fatalf("got key %q, want prefix lk_%s_", full, rec.ID)
	}
	id, secret, ok := Parse(full)
	if !ok || id != rec.ID {
		t.Fatalf("got id %q ok %v, want %q", id, ok, rec.ID)
	}
	if !Verify(rec, secret) {
		t.Fatal("got false for the key's own secret, want true")
	}
	if Verify(rec, secret+"x") {
		t.Fatal("got true for another secret, want false")
	}
	if strings.Contains(string(rec.Hash), secret) {
		t.Fatal("the stored hash holds the secret")
	}
}

func TestOperatorKeyMapsToOneStableRow(t *testing.T) {
	a, err := FromSecret("a-long-operator-chosen-key", latchkey.ScopeAdmin, "env", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	id, secret, ok := Parse("a-long-operator-chosen-key")
	if !ok || id != a.ID || !Verify(a, secret) {
		t.Fatalf("got id %q ok %v, want %q and a verifying secret", id, ok, a.ID)
	}
	if _, err := FromSecret("short", latchkey.ScopeAdmin, "env", time.Now()); err == nil {
		t.Fatal("got no error for a 5-character key, want one")
	}
}

func TestGenerateRefusesBadScopes(t *testing.T) {
	for _, tc := range []struct{ scope, app string }{{"root", ""}, {latchkey.ScopeAdmin, "crm"}, {latchkey.ScopeRuntime, ""}} {
		if _, _, err := Generate(tc.scope, tc.app, "", time.Now()); latchkey.ErrorCode(err) != latchkey.EINVALID {
			t.Errorf("Generate(%q, %q): got %v, want an invalid error", tc.scope, tc.app, err)
		}
	}
}
