package signature

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"time"
)

// Headers of a delivery.
const (
	// SignatureHeader carries "t=<unix seconds>,v1=<hex HMAC-SHA256>".
	SignatureHeader = "Latchkey-Signature"
	// EventHeader carries the event type, such as "connection.refreshed".
	EventHeader = "Latchkey-Event"
	// DeliveryHeader carries the event id, the same on every retry, so that
	// a receiver can drop duplicates.
	DeliveryHeader = "Latchkey-Delivery"
)

// DefaultTolerance is how far from the receiver's clock Verify accepts a
// signature's timestamp.
const DefaultTolerance = 5 * time.Minute

// NewSecret returns a new random signing secret, "whsec_" and 32 random
// bytes in unpadded base64url.
func NewSecret() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return "whsec_" + base64.RawURLEncoding.EncodeToString(b), nil
}

// Sign returns the SignatureHeader value of body sent at t: the HMAC-SHA256,
// keyed with the whole secret string (its bytes, "whsec_" included), of the
// decimal Unix time, a ".", and the body's bytes, in hex.
//
// A receiver verifies a delivery so (Verify does it in Go):
//  1. Read the raw body, before any JSON decoding.
//  2. Split the Latchkey-Signature header on ","; take t from "t=" and every
//     "v1=" value.
//  3. Refuse the delivery when t is more than a few minutes from the
//     receiver's clock (a replay).
//  4. Compute hex(HMAC-SHA256(secret, t + "." + body)) and compare it with
//     each v1 in constant time (hmac.Equal); accept on a match.
//
// Retries are signed anew, with their own t; the DeliveryHeader stays the
// same.
func Sign(secret string, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + mac(secret, ts, body)
}

func mac(secret, ts string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts))
	m.Write([]byte("."))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// Errors of Verify.
var (
	ErrNoSignature  = errors.New("webhook: no valid signature header")
	ErrBadSignature = errors.New("webhook: the signature does not match")
	ErrTooOld       = errors.New("webhook: the signature's timestamp is outside the tolerance")
)

// Verify checks the SignatureHeader value header of body against secret,
// accepting a timestamp within tolerance of now (DefaultTolerance when
// tolerance is 0).
func Verify(secret, header string, body []byte, now time.Time, tolerance time.Duration) error {
	if tolerance == 0 {
		tolerance = DefaultTolerance
	}
	var ts string
	var sigs []string
	for _, part := range strings.Split(header, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		switch {
		case !ok:
		case k == "t":
			ts = v
		case k == "v1":
			sigs = append(sigs, v)
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || len(sigs) == 0 {
		return ErrNoSignature
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return ErrTooOld
	}
	want := []byte(mac(secret, ts, body))
	for _, s := range sigs {
		if hmac.Equal([]byte(s), want) {
			return nil
		}
	}
	return ErrBadSignature
}
