// Package secretbox encrypts the values Latchkey keeps at rest (tokens,
// client secrets, PKCE code verifiers, app documents) with AES-256-GCM.
//
// A Keyring holds one or more named 256-bit keys: the first, the primary,
// encrypts; every key decrypts, so that a new primary can be introduced
// while values written under older keys stay readable until they are
// re-encrypted. A ciphertext reads "v1.<key id>.<base64url(nonce||ct)>": the
// version and key id travel with the value, and the associated data that
// binds a value to its row (an app name, an org and user and setting name)
// is checked by the GCM tag but never stored.
//
// Errors never hold a key or a plaintext.
package secretbox
