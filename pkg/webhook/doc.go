// Package webhook sends an app's connection events (latchkey.Event) to the
// HTTPS endpoints the app's admins registered, signed with each endpoint's
// secret (see Sign and Verify), durably: an event is stored as one pending
// delivery per endpoint before it is sent, a background loop sends the due
// deliveries, retries failures with capped exponential backoff, and logs
// every attempt, readable through the store's ListDeliveries.
package webhook
