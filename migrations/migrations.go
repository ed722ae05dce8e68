// Package migrations holds Latchkey's database schema as versioned SQL files
// in goose's format (github.com/pressly/goose/v3), one folder per dialect:
// sqlite/ and postgres/. The store applies them in order when it opens, each
// in its own transaction, and records the version reached in goose's table,
// so that a database is never changed by anything but a numbered file here.
//
// A schema change is a new file with the next number in both folders; a file
// that has been released is never edited.
package migrations

import "embed"

// FS holds the migration files, under sqlite/ and postgres/.
//
//go:embed sqlite/*.sql postgres/*.sql
var FS embed.FS
