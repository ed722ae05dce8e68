package sqlstore_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/latchkey/latchkey/pkg/latchkey"
	"github.com/latchkey/latchkey/pkg/secretbox"
	"github.com/latchkey/latchkey/pkg/store/sqlstore"
)

func ExampleOpen() {
	dir, _ := os.MkdirTemp("", "latchkey")
	defer os.RemoveAll(dir)
	keys, _ := secretbox.LoadOrCreateKeyFile(filepath.Join(dir, "encryption.key"))
	ring, _ := secretbox.NewKeyring(keys...)

	ctx := context.Background()
	st, err := sqlstore.Open(ctx, sqlstore.Config{URL: "sqlite://" + filepath.Join(dir, "latchkey.db"), Keyring: ring})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer st.Close()

	app, _ := st.PutApp(ctx, latchkey.App{Name: "demo", OAuthConfigs: []latchkey.OAuthConfig{{Name: "main"}}})
	k := latchkey.ConnectionKey{App: "demo", Org: "acme", User: "alice", Config: "main"}
	conn, _ := st.PutConnection(ctx, latchkey.Connection{ConnectionKey: k, Status: latchkey.StatusActive,
		Values: map[string]string{"access_token": "xoxp-1"}})
	fmt.Println(app.Name, app.Revision, conn.Version)

	conn, _ = st.UpdateConnection(ctx, k, func(c latchkey.Connection) (latchkey.Connection, error) {
		c.Values["access_token"] = "xoxp-2"
		return c, nil
	})
	fmt.Println(conn.Version, conn.Values["access_token"])
	// Output:
	// demo 1 1
	// 2 xoxp-2
}
