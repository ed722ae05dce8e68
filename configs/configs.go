// Package configs holds Latchkey's ready app documents, embedded so that the
// binary carries them: Providers, the catalog (one document per provider, in
// providers/), and Apps, the example apps (apps/), such as the quickstart's
// demo app. Each document is YAML in the format of latchkey.ParseApp; its
// comments explain the provider's quirks and how the document meets them.
//
// The example server configuration, latchkey.example.env, sits beside them
// and is not embedded.
package configs

import "embed"

// Providers is the provider catalog: providers/*.yaml.
//
//go:embed providers/*.yaml
var Providers embed.FS

// Apps are the example app documents: apps/*.yaml.
//
//go:embed apps/*.yaml
var Apps embed.FS
