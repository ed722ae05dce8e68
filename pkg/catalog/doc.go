// Package catalog is Latchkey's provider catalog: the app documents of
// configs/providers, embedded in the binary, parsed, completed with the
// catalog's defaults and compiled once at start, then listed, searched and
// turned into apps. It also builds a document from a provider's OpenID
// Connect discovery (OpenID Connect Discovery 1.0 §4) or OAuth 2
// authorization server metadata (RFC 8414 §3).
//
// Providers are data: nothing in this package or any other knows a
// provider by name. Each entry's quirks are fields of its document.
package catalog
