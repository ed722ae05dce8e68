package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/latchkey/latchkey/pkg/httpapi"
	"github.com/latchkey/latchkey/pkg/store"
)

// defaultAdminEmail is the email of the admin account created on first run
// when LATCHKEY_ADMIN_EMAIL does not choose one.
const defaultAdminEmail = "admin@localhost"

// runAdmins manages the builder UI's admin accounts on the database:
//
//	latchkey admins create --email E   (password from LATCHKEY_ADMIN_PASSWORD, else the first line of stdin)
//	latchkey admins password --email E (the same, for a new password; ends the admin's sessions)
//	latchkey admins list
func runAdmins(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "usage: latchkey admins create|password|list [--email E]")
		return errUsage
	}
	var cfg Config
	fs := flag.NewFlagSet("admins "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	storeFlags(fs, &cfg)
	email := fs.String("email", "", "the admin's email (create, password)")
	if err := fs.Parse(args[1:]); err != nil {
		return errUsage
	}
	logger := cliLogger(stderr)
	st, err := openStore(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer st.Close()
	switch args[0] {
	case "create", "password":
		if err := httpapi.CheckAdminEmail(strings.ToLower(strings.TrimSpace(*email))); err != nil {
			return fmt.Errorf("--email %v: the admin's email address", err)
		}
		password, err := readPassword(stdin, stderr)
		if err != nil {
			return err
		}
		hash, err := httpapi.HashPassword(password)
		if err != nil {
			return err
		}
		if args[0] == "create" {
			if err := st.CreateAdmin(ctx, store.Admin{Email: *email, PasswordHash: hash}); err != nil {
				return err
			}
			fmt.Fprintf(stderr, "Admin %s created; sign in at /ui/.\n", strings.ToLower(strings.TrimSpace(*email)))
			return nil
		}
		if err := st.SetAdminPassword(ctx, *email, hash); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "The password of %s is changed; its sessions have ended.\n", strings.ToLower(strings.TrimSpace(*email)))
	case "list":
		admins, err := st.ListAdmins(ctx)
		if err != nil {
			return err
		}
		for _, a := range admins {
			fmt.Fprintf(stdout, "%s\tcreated %s\n", a.Email, a.CreatedAt.Format("2006-01-02 15:04"))
		}
	default:
		fmt.Fprintf(stderr, "latchkey admins: unknown subcommand %q\n", args[0])
		return errUsage
	}
	return nil
}

// readPassword takes the password from LATCHKEY_ADMIN_PASSWORD, or else the
// first line of stdin, so that it never appears in a command line.
func readPassword(stdin io.Reader, stderr io.Writer) (string, error) {
	if p := os.Getenv("LATCHKEY_ADMIN_PASSWORD"); p != "" {
		return p, nil
	}
	fmt.Fprintln(stderr, "Password (at least 12 characters), then Enter:")
	line, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && !(errors.Is(err, io.EOF) && line != "") {
		return "", errors.New("no password: set LATCHKEY_ADMIN_PASSWORD or type it on stdin")
	}
	return strings.TrimRight(line, "\r\n"), nil
}

// ensureFirstAdmin creates an admin account of the builder UI when none
// exists: LATCHKEY_ADMIN_EMAIL (default admin@localhost) with
// LATCHKEY_ADMIN_PASSWORD, or with a random password printed once, as the
// first admin API key is.
func (m *Main) ensureFirstAdmin(ctx context.Context) error {
	admins, err := m.store.ListAdmins(ctx)
	if err != nil || len(admins) > 0 {
		return err
	}
	email := envOr("LATCHKEY_ADMIN_EMAIL", defaultAdminEmail)
	password := os.Getenv("LATCHKEY_ADMIN_PASSWORD")
	generated := password == ""
	if generated {
		b := make([]byte, 18)
		if _, err := rand.Read(b); err != nil {
			return err
		}
		password = base64.RawURLEncoding.EncodeToString(b)
	}
	hash, err := httpapi.HashPassword(password)
	if err != nil {
		return fmt.Errorf("LATCHKEY_ADMIN_PASSWORD: %w", err)
	}
	if err := m.store.CreateAdmin(ctx, store.Admin{Email: email, PasswordHash: hash, CreatedAt: m.Now()}); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return nil // another replica created it first
		}
		return err
	}
	if generated {
		fmt.Fprintf(m.Stdout, "\nAn admin account for the web UI (/ui/) was created. Its password is shown this once:\n\n  email:    %s\n  password: %s\n\n", email, password)
	}
	return nil
}
