package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/latchkey/latchkey/pkg/store/storetest"
)

// TestSQLiteTransactionsTakeTurns: while one SQLite transaction of the
// store runs, the others of the process wait for the writer slot: one whose
// context ends meanwhile gives up with the context's error and writes
// nothing, the rest run in turn once the first ends, and every write is
// kept.
func TestSQLiteTransactionsTakeTurns(t *testing.T) {
	s := openCached(t, Config{URL: filepath.Join(t.TempDir(), "latchkey.db"), Keyring: cacheRing(t)})
	ctx := context.Background()
	holding, release := make(chan struct{}), make(chan struct{})
	first := make(chan error, 1)
	go func() {
		first <- s.tx(ctx, func(tx *gorm.DB) error {
			close(holding)
			<-release
			return tx.Create(&appRow{Name: "first", Document: "{}"}).Error
		})
	}()
	<-holding

	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := s.PutApp(short, storetest.App("impatient")); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("PutApp while another transaction holds the writer, with a 50 ms deadline: got %v, want context.DeadlineExceeded", err)
	}

	var wg sync.WaitGroup
	errs := make([]error, 5)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = s.PutApp(ctx, storetest.App(fmt.Sprintf("waiting-%d", i)))
		}()
	}
	time.Sleep(20 * time.Millisecond) // the five are waiting
	close(release)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("waiting writer %d: %v", i, err)
		}
	}
	var names []string
	if err := s.db.Model(&appRow{}).Order("name").Pluck("name", &names).Error; err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(names) != "[first waiting-0 waiting-1 waiting-2 waiting-3 waiting-4]" {
		t.Fatalf("got apps %v, want first and the five waiting ones, not the impatient one", names)
	}
}
