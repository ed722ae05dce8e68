package sqlstore_test

import (
	"testing"

	"github.com/latchkey/latchkey/pkg/latchkey"
	"github.com/latchkey/latchkey/pkg/store/storetest"
)

// A sealed value copied to the same row of another environment does not
// decrypt, whichever way it is copied: the associated data names the
// environment (dev's, the environment of rows from before environments,
// by naming none).
func TestCiphertextCopiedAcrossEnvironmentsFails(t *testing.T) {
	s, _ := openSQLite(t, newRing(t))
	k := latchkey.ConnectionKey{App: "crm", Org: "acme", User: "ann", Config: "main"}
	for _, env := range []latchkey.Environment{latchkey.EnvDev, latchkey.EnvProd} {
		in := s.In(env)
		if _, err := in.PutApp(ctx, storetest.App("crm")); err != nil {
			t.Fatal(err)
		}
		if _, err := in.PutConnection(ctx, latchkey.Connection{ConnectionKey: k, Status: latchkey.StatusActive,
			Values: map[string]string{"access_token": "token-of-" + string(env)}}); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct{ from, to latchkey.Environment }{{latchkey.EnvDev, latchkey.EnvProd}, {latchkey.EnvProd, latchkey.EnvDev}} {
		var sealed string
		if err := s.DB().Raw("SELECT value FROM setting_values WHERE env = ? AND name = 'access_token'", string(c.from)).Scan(&sealed).Error; err != nil || sealed == "" {
			t.Fatalf("reading %s's sealed token: %q, %v", c.from, sealed, err)
		}
		var saved string
		if err := s.DB().Raw("SELECT value FROM setting_values WHERE env = ? AND name = 'access_token'", string(c.to)).Scan(&saved).Error; err != nil {
			t.Fatal(err)
		}
		if err := s.DB().Exec("UPDATE setting_values SET value = ? WHERE env = ? AND name = 'access_token'", sealed, string(c.to)).Error; err != nil {
			t.Fatal(err)
		}
		if _, err := s.In(c.to).GetConnection(ctx, k); err == nil {
			t.Errorf("%s's connection with %s's ciphertext: got no error, want a decryption failure", c.to, c.from)
		}
		if err := s.DB().Exec("UPDATE setting_values SET value = ? WHERE env = ? AND name = 'access_token'", saved, string(c.to)).Error; err != nil {
			t.Fatal(err)
		}
	}
	for _, env := range []latchkey.Environment{latchkey.EnvDev, latchkey.EnvProd} {
		if c, err := s.In(env).GetConnection(ctx, k); err != nil || c.Values["access_token"] != "token-of-"+string(env) {
			t.Fatalf("%s's own connection: %v", env, err)
		}
	}
}
