//go:build !no_ui

// Package ui holds the builder web UI: a Preact app in src/, built by Vite
// into dist/, which this package embeds so that the server needs no Node.js
// at run time. Rebuild dist/ with `npm ci && npm run build` in this folder
// after changing src/, and commit it. Build with -tags no_ui to leave the UI
// out of the binary.
package ui

import (
	"embed"
	"io/fs"
)

//go:embed all:dist
var distDir embed.FS

// DistDirFS is the built UI: index.html and assets/.
var DistDirFS, _ = fs.Sub(distDir, "dist")

// Embedded reports whether the UI is built into this binary.
const Embedded = true
