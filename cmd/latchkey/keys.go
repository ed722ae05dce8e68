package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/latchkey/latchkey/pkg/secretbox"
	"github.com/latchkey/latchkey/pkg/store/sqlstore"
)

// keyFileName is the key file's name in the data folder.
const keyFileName = "encryption.key"

// DefaultKeyReloadInterval is how often a server in key-file mode looks at
// the key file's modification time, to take new keys without a restart.
const DefaultKeyReloadInterval = 2 * time.Second

const keysUsage = `usage: latchkey keys generate
       latchkey keys rotate [--remove-old] [--batch N] [--wait DURATION] [--data-dir DIR] [--database-url URL]`

// keyReloader watches the key file of a server in key-file mode and gives
// the store the file's keys whenever the file changes. A file that cannot
// be read or parsed is logged and ignored: the server keeps its keys.
type keyReloader struct {
	path     string
	interval time.Duration
	log      *slog.Logger
	last     fs.FileInfo // the file as last seen; nil when it could not be
	failing  bool        // the last stat failed (logged once)

	quit chan struct{}
	wg   sync.WaitGroup
}

// newKeyReloader returns the key file's watcher for cfg, or nil when the
// keys come from LATCHKEY_ENCRYPTION_KEY. It notes the file's state at once,
// before the store opens, so that a change made while the store opens is
// seen at the first tick.
func newKeyReloader(cfg Config, interval time.Duration, log *slog.Logger) *keyReloader {
	if cfg.EncryptionKeys != "" {
		return nil
	}
	if interval <= 0 {
		interval = DefaultKeyReloadInterval
	}
	r := &keyReloader{path: filepath.Join(cfg.DataDir, keyFileName), interval: interval, log: log, quit: make(chan struct{})}
	r.last, _ = os.Stat(r.path)
	return r
}

// start watches the file until stop, giving st its keys when it changes.
func (r *keyReloader) start(st *sqlstore.Store) {
	if r == nil {
		return
	}
	if r.last == nil {
		r.last, _ = os.Stat(r.path) // the store created it on first run
	}
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		t := time.NewTicker(r.interval)
		defer t.Stop()
		for {
			select {
			case <-r.quit:
				return
			case <-t.C:
				r.check(st)
			}
		}
	}()
}

// stop ends the watch and waits for it. It may be called more than once.
func (r *keyReloader) stop() {
	if r == nil {
		return
	}
	select {
	case <-r.quit:
	default:
		close(r.quit)
	}
	r.wg.Wait()
}

// check reloads the key file when its modification time, size or identity
// (a rename puts a new file in its place) changed since it was last seen.
func (r *keyReloader) check(st *sqlstore.Store) {
	fi, err := os.Stat(r.path)
	if err != nil {
		if !r.failing {
			r.log.Error("the key file cannot be read; keeping the current encryption keys", "file", r.path, "err", err)
		}
		r.failing, r.last = true, nil
		return
	}
	r.failing = false
	if r.last != nil && fi.ModTime().Equal(r.last.ModTime()) && fi.Size() == r.last.Size() && os.SameFile(fi, r.last) {
		return
	}
	r.last = fi
	keys, err := secretbox.LoadKeyFile(r.path)
	if err != nil {
		r.log.Error("the key file changed but cannot be loaded; keeping the current encryption keys", "file", r.path, "err", err)
		return
	}
	ring, err := secretbox.NewKeyring(keys...)
	if err != nil {
		r.log.Error("the key file changed but cannot be loaded; keeping the current encryption keys", "file", r.path, "err", err)
		return
	}
	st.SetKeyring(ring)
	r.log.Info("encryption keys reloaded", "file", r.path, "primary", ring.PrimaryID(), "keys", len(keys))
}

// runKeys manages encryption keys: generate prints a new one, rotate
// re-encrypts the database under a new one.
func runKeys(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(stderr, keysUsage)
		return errUsage
	}
	switch args[0] {
	case "generate":
		k, err := secretbox.GenerateKey()
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, k.String())
		return nil
	case "rotate":
		return runKeysRotate(ctx, args[1:], stdout, stderr)
	}
	fmt.Fprintf(stderr, "latchkey keys: unknown command %q\n%s\n", args[0], keysUsage)
	return errUsage
}

// rotateOptions are the flags of keys rotate.
type rotateOptions struct {
	cfg       Config
	removeOld bool
	batch     int
	wait      time.Duration
}

func runKeysRotate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var o rotateOptions
	fs := flag.NewFlagSet("keys rotate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, `usage: latchkey keys rotate [flags]

With the key file (data/%s): adds a new key first in the file, waits for
running servers to load it, re-encrypts every value under it, and with
--remove-old then drops the old keys from the file.

With LATCHKEY_ENCRYPTION_KEY: put a new key (latchkey keys generate) first in
the variable, keep the old ones after it, restart every replica; then run
this to re-encrypt every value under the first key.

Flags:
`, keyFileName)
		fs.PrintDefaults()
	}
	storeFlags(fs, &o.cfg)
	fs.BoolVar(&o.removeOld, "remove-old", false, "once every value is re-encrypted, drop the old keys from the key file")
	fs.IntVar(&o.batch, "batch", sqlstore.DefaultRotateBatch, "rows re-encrypted per transaction")
	fs.DurationVar(&o.wait, "wait", DefaultKeyReloadInterval+time.Second, "how long running servers get to load the new key file before re-encrypting")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if fs.NArg() != 0 || o.batch <= 0 {
		fs.Usage()
		return errUsage
	}
	logger := cliLogger(stderr)
	if o.cfg.EncryptionKeys != "" {
		return rotateEnv(ctx, o, stdout, stderr, logger)
	}
	return rotateKeyFile(ctx, o, stdout, stderr, logger)
}

// checkDatabase fails clearly when the SQLite database does not exist, so
// that rotate never creates an empty one (or a data folder) by mistake.
func checkDatabase(cfg Config) error {
	if cfg.DatabaseURL != "" {
		return nil
	}
	if fi, err := os.Stat(cfg.DataDir); err != nil || !fi.IsDir() {
		return fmt.Errorf("data folder %s does not exist; pass --data-dir (or LATCHKEY_DATA_DIR) with the folder the server uses", cfg.DataDir)
	}
	db := filepath.Join(cfg.DataDir, "latchkey.db")
	if _, err := os.Stat(db); err != nil {
		return fmt.Errorf("no database at %s: %w", db, err)
	}
	return nil
}

// openWith opens the configured database with ring.
func openWith(ctx context.Context, cfg Config, ring *secretbox.Keyring, logger *slog.Logger) (*sqlstore.Store, error) {
	url := cfg.DatabaseURL
	if url == "" {
		url = filepath.Join(cfg.DataDir, "latchkey.db")
	}
	st, err := sqlstore.Open(ctx, sqlstore.Config{URL: url, Keyring: ring, Logger: logger})
	if err != nil {
		return nil, fmt.Errorf("opening the store: %w", err)
	}
	return st, nil
}

// rotateKeyFile rotates in key-file mode: new key first in the file, wait
// for the servers, re-encrypt, and with --remove-old drop the old keys.
func rotateKeyFile(ctx context.Context, o rotateOptions, stdout, stderr io.Writer, logger *slog.Logger) error {
	path := filepath.Join(o.cfg.DataDir, keyFileName)
	if fi, err := os.Stat(o.cfg.DataDir); err != nil || !fi.IsDir() {
		return fmt.Errorf("data folder %s does not exist; pass --data-dir (or LATCHKEY_DATA_DIR) with the folder the server uses", o.cfg.DataDir)
	}
	if err := checkDatabase(o.cfg); err != nil {
		return err
	}
	old, err := secretbox.LoadKeyFile(path)
	if err != nil {
		return fmt.Errorf("the key file: %w", err)
	}
	oldRing, err := secretbox.NewKeyring(old...)
	if err != nil {
		return fmt.Errorf("the key file %s: %w", path, err)
	}
	// Open the store under the old keys first: a store that cannot open
	// leaves the key file as it was.
	st, err := openWith(ctx, o.cfg, oldRing, logger)
	if err != nil {
		return err
	}
	defer st.Close()

	fresh, err := secretbox.GenerateKey()
	if err != nil {
		return err
	}
	all := append([]secretbox.Key{fresh}, old...)
	ring, err := secretbox.NewKeyring(all...)
	if err != nil {
		return err
	}
	if err := secretbox.WriteKeyFile(path, all); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "Key %s added first in %s; the old keys (%s) stay after it.\n", fresh.ID, path, keyIDs(old))
	if o.wait > 0 {
		fmt.Fprintf(stderr, "Waiting %s for running servers to load the new key file…\n", o.wait)
		select {
		case <-time.After(o.wait):
		case <-ctx.Done():
			return fmt.Errorf("interrupted before re-encrypting; the key file holds the new key and the old ones, run latchkey keys rotate again: %w", ctx.Err())
		}
	}
	st.SetKeyring(ring)
	n, err := rotate(ctx, st, o.batch, stderr)
	if err != nil {
		return fmt.Errorf("%w\nThe key file still holds the old keys after the new one; fix the cause and run latchkey keys rotate again", err)
	}
	fmt.Fprintf(stdout, "Re-encrypted %d values under key %s.\n", n, fresh.ID)
	if !o.removeOld {
		fmt.Fprintf(stdout, "The old keys (%s) are still in %s; run with --remove-old next time, or remove their lines once no server needs them.\n", keyIDs(old), path)
		return nil
	}
	if err := secretbox.WriteKeyFile(path, []secretbox.Key{fresh}); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Removed the old keys (%s) from %s; it holds key %s alone. Running servers load it within %s.\n", keyIDs(old), path, fresh.ID, DefaultKeyReloadInterval)
	return nil
}

// rotateEnv rotates in environment mode: the operator put the new key first
// in LATCHKEY_ENCRYPTION_KEY; re-encrypt under it and say what comes next.
func rotateEnv(ctx context.Context, o rotateOptions, stdout, stderr io.Writer, logger *slog.Logger) error {
	if o.removeOld {
		return errors.New("--remove-old rewrites the key file, but the keys come from LATCHKEY_ENCRYPTION_KEY: after the rotation, drop the old keys from the variable yourself")
	}
	keys, err := secretbox.ParseKeys(o.cfg.EncryptionKeys)
	if err != nil {
		return fmt.Errorf("LATCHKEY_ENCRYPTION_KEY: %w", err)
	}
	if len(keys) < 2 {
		return fmt.Errorf("LATCHKEY_ENCRYPTION_KEY holds one key (%s), so there is nothing to rotate to: put a new key (latchkey keys generate) first in the variable, keep the old one after it, restart every replica one at a time, then run latchkey keys rotate again", keys[0].ID)
	}
	ring, err := secretbox.NewKeyring(keys...)
	if err != nil {
		return fmt.Errorf("LATCHKEY_ENCRYPTION_KEY: %w", err)
	}
	if err := checkDatabase(o.cfg); err != nil {
		return err
	}
	st, err := openWith(ctx, o.cfg, ring, logger)
	if err != nil {
		return err
	}
	defer st.Close()
	fmt.Fprintf(stderr, "Re-encrypting under key %s, the first of LATCHKEY_ENCRYPTION_KEY (every replica must already run with it first).\n", ring.PrimaryID())
	n, err := rotate(ctx, st, o.batch, stderr)
	if err != nil {
		return fmt.Errorf("%w\nNothing is lost: fix the cause and run latchkey keys rotate again", err)
	}
	fmt.Fprintf(stdout, "Re-encrypted %d values under key %s.\n", n, ring.PrimaryID())
	fmt.Fprintf(stdout, "Next: set LATCHKEY_ENCRYPTION_KEY to key %s alone (drop %s) and restart the servers, one replica at a time.\n", ring.PrimaryID(), keyIDs(keys[1:]))
	return nil
}

// rotate runs the store's Rotate with a progress bar on w, then once more
// for values a server wrote under an old key meanwhile, and returns how
// many values it re-encrypted.
func rotate(ctx context.Context, st *sqlstore.Store, batch int, w io.Writer) (int, error) {
	bar := newProgress(w)
	n := 0
	err := st.Rotate(ctx, batch, func(done, total int) { n = done; bar.update(done, total) })
	bar.finish()
	if err != nil {
		return n, err
	}
	if n == 0 {
		fmt.Fprintln(w, "Nothing to re-encrypt: every value is under the new key already.")
	}
	late := 0
	if err := st.Rotate(ctx, batch, func(done, _ int) { late = done }); err != nil {
		return n, err
	}
	if late > 0 {
		fmt.Fprintf(w, "%d values were written under an old key during the rotation (a server that had not loaded the new key yet); re-encrypted them too.\n", late)
	}
	return n + late, nil
}

// progress draws "[#####-----] 512/1024 rows": redrawn in place with \r on
// a terminal, as a line at every tenth otherwise.
type progress struct {
	w        io.Writer
	terminal bool
	drawn    bool
	step     int // the last tenth printed, when not on a terminal
}

func newProgress(w io.Writer) *progress {
	p := &progress{w: w, step: -1}
	if f, ok := w.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			p.terminal = true
		}
	}
	return p
}

const barWidth = 30

func (p *progress) update(done, total int) {
	if total <= 0 {
		return
	}
	line := progressLine(done, total)
	if p.terminal {
		fmt.Fprint(p.w, "\r"+line)
		p.drawn = true
		return
	}
	if step := done * 10 / total; step != p.step {
		p.step = step
		fmt.Fprintln(p.w, line)
	}
}

func (p *progress) finish() {
	if p.drawn {
		fmt.Fprintln(p.w)
	}
}

func progressLine(done, total int) string {
	filled := done * barWidth / total
	return fmt.Sprintf("[%s%s] %d/%d rows", strings.Repeat("#", filled), strings.Repeat("-", barWidth-filled), done, total)
}

func keyIDs(keys []secretbox.Key) string {
	ids := make([]string, len(keys))
	for i, k := range keys {
		ids[i] = k.ID
	}
	return strings.Join(ids, ", ")
}
