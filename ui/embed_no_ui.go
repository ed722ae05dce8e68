//go:build no_ui

// Package ui holds the builder web UI. This build (tag no_ui) leaves it out:
// /ui/ answers that the UI is not built in, and the API works as usual.
package ui

import (
	"io/fs"
	"testing/fstest"
)

// DistDirFS is empty in a build without the UI.
var DistDirFS fs.FS = fstest.MapFS{}

// Embedded reports whether the UI is built into this binary.
const Embedded = false
