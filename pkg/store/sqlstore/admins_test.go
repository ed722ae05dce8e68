package sqlstore_test

import (
	"testing"

	"github.com/latchkey/latchkey/pkg/store"
	"github.com/latchkey/latchkey/pkg/store/storetest"
)

func TestAdminsSQLite(t *testing.T) {
	storetest.RunAdminTests(t, func(t *testing.T) store.Store {
		s, _ := openSQLite(t, newRing(t))
		return s
	})
}

func TestAdminsPostgres(t *testing.T) {
	storetest.PostgresURL(t) // skips, saying why, without a server
	storetest.RunAdminTests(t, func(t *testing.T) store.Store {
		return openAt(t, storetest.PostgresURL(t), newRing(t))
	})
}
