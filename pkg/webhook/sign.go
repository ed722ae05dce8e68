package webhook

import (
	"time"

	"github.com/latchkey/latchkey/pkg/webhook/signature"
)

// Headers of a delivery (see package signature).
const (
	// SignatureHeader carries "t=<unix seconds>,v1=<hex HMAC-SHA256>".
	SignatureHeader = signature.SignatureHeader
	// EventHeader carries the event type, such as "connection.refreshed".
	EventHeader = signature.EventHeader
	// DeliveryHeader carries the event id, the same on every retry, so that
	// a receiver can drop duplicates.
	DeliveryHeader = signature.DeliveryHeader
)

// DefaultTolerance is how far from the receiver's clock Verify accepts a
// signature's timestamp.
const DefaultTolerance = signature.DefaultTolerance

// Errors of Verify.
var (
	ErrNoSignature  = signature.ErrNoSignature
	ErrBadSignature = signature.ErrBadSignature
	ErrTooOld       = signature.ErrTooOld
)

// NewSecret returns a new random signing secret (signature.NewSecret).
func NewSecret() (string, error) { return signature.NewSecret() }

// Sign returns the SignatureHeader value of body sent at t
// (signature.Sign, which says how a receiver checks it).
func Sign(secret string, t time.Time, body []byte) string { return signature.Sign(secret, t, body) }

// Verify checks the SignatureHeader value header of body against secret,
// accepting a timestamp within tolerance of now (signature.Verify).
func Verify(secret, header string, body []byte, now time.Time, tolerance time.Duration) error {
	return signature.Verify(secret, header, body, now, tolerance)
}
