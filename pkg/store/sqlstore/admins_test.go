package sqlstore_test

import (
	"os"
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
	base := os.Getenv("LATCHKEY_TEST_POSTGRES_URL")
	if base == "" {
		t.Skip("LATCHKEY_TEST_POSTGRES_URL is not set; set it to a PostgreSQL URL to run the admin suite on PostgreSQL")
	}
	storetest.RunAdminTests(t, func(t *testing.T) store.Store {
		return openAt(t, postgresSchema(t, base), newRing(t))
	})
}
