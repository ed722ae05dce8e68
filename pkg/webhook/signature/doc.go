// Package signature signs and verifies Latchkey's webhook deliveries: the
// Latchkey-Signature header, an HMAC-SHA256 of the timestamp and the body
// keyed with the webhook's secret. It imports nothing of Latchkey, so that a
// receiver (the Go client, github.com/latchkey/latchkey/client) checks
// deliveries without the dispatcher that sends them (pkg/webhook).
package signature
