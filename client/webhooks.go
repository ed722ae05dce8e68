package client

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/latchkey/latchkey/pkg/webhook/signature"
)

// Webhook is an endpoint that receives an app's connection events, as
// listed: never its secret.
type Webhook struct {
	ID  string `json:"id"`
	App string `json:"app"`
	URL string `json:"url"`
	// Events are the event types sent; empty means all of them.
	Events    []string  `json:"events"`
	CreatedAt time.Time `json:"created_at"`
}

// NewWebhook is a created webhook with its signing secret, shown this once:
// keep it to verify deliveries (VerifyWebhook).
type NewWebhook struct {
	Webhook Webhook `json:"webhook"`
	Secret  string  `json:"secret"`
}

// Delivery is one event on its way to one webhook, with its attempts.
type Delivery struct {
	ID            int64     `json:"id"`
	WebhookID     string    `json:"webhook_id"`
	App           string    `json:"app"`
	EventID       string    `json:"event_id"`
	EventType     string    `json:"event_type"`
	State         string    `json:"state"` // pending, delivered or failed
	AttemptCount  int       `json:"attempt_count"`
	NextAttemptAt time.Time `json:"next_attempt_at,omitzero"`
	CreatedAt     time.Time `json:"created_at"`
	Attempts      []Attempt `json:"attempts,omitempty"`
}

// Attempt is one try at a delivery: the endpoint's status, or why no
// answer came.
type Attempt struct {
	At         time.Time `json:"at"`
	StatusCode int       `json:"status_code,omitempty"`
	Error      string    `json:"error,omitempty"`
	DurationMS int64     `json:"duration_ms"`
}

// Event types of webhooks.
const (
	EventConnectionCreated       = "connection.created"
	EventConnectionRefreshed     = "connection.refreshed"
	EventConnectionRefreshFailed = "connection.refresh_failed"
	EventConnectionNeedsReauth   = "connection.needs_reauth"
	EventConnectionDeleted       = "connection.deleted"
)

// Event is a webhook delivery's body: something that happened to a
// connection. It never carries a token.
type Event struct {
	ID        string    `json:"id"`
	Type      string    `json:"type"`
	CreatedAt time.Time `json:"created_at"`
	ConnectionKey
	Status string `json:"status,omitempty"`
	// Error is why a refresh failed: the provider's error code and
	// description (RFC 6749 §5.2), or Latchkey's own account.
	Error *EventError `json:"error,omitempty"`
}

// EventError is the failure an Event reports.
type EventError struct {
	Code        string `json:"code,omitempty"`
	Description string `json:"description,omitempty"`
}

// ListWebhooks returns an app's webhooks.
func (c *Client) ListWebhooks(ctx context.Context, app string) ([]Webhook, error) {
	var out struct {
		Webhooks []Webhook `json:"webhooks"`
	}
	_, err := c.do(ctx, request{method: http.MethodGet, path: apiPath("apps", app, "webhooks")}, &out)
	return out.Webhooks, err
}

// CreateWebhook registers endpoint (https, or http on a loopback host) for
// the app's events of the given types (nil for all).
func (c *Client) CreateWebhook(ctx context.Context, app, endpoint string, events []string) (*NewWebhook, error) {
	body := map[string]any{"url": endpoint}
	if events != nil {
		body["events"] = events
	}
	var out NewWebhook
	if _, err := c.do(ctx, request{method: http.MethodPost, path: apiPath("apps", app, "webhooks"), body: body}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// DeleteWebhook deletes a webhook; its pending deliveries are not sent.
func (c *Client) DeleteWebhook(ctx context.Context, app, id string) error {
	_, err := c.do(ctx, request{method: http.MethodDelete, path: apiPath("apps", app, "webhooks", id)}, nil)
	return err
}

// ListDeliveries returns a webhook's deliveries, newest first, with their
// attempts: at most limit (0 for the server's default of 100; at most
// 1,000).
func (c *Client) ListDeliveries(ctx context.Context, app, id string, limit int) ([]Delivery, error) {
	r := request{method: http.MethodGet, path: apiPath("apps", app, "webhooks", id, "deliveries")}
	if limit != 0 {
		r.query = url.Values{"limit": {strconv.Itoa(limit)}}
	}
	var out struct {
		Deliveries []Delivery `json:"deliveries"`
	}
	_, err := c.do(ctx, r, &out)
	return out.Deliveries, err
}

// Headers of a webhook delivery.
const (
	// SignatureHeader carries "t=<unix seconds>,v1=<hex HMAC-SHA256>".
	SignatureHeader = signature.SignatureHeader
	// EventHeader carries the event type.
	EventHeader = signature.EventHeader
	// DeliveryHeader carries the event id, the same on every retry: drop
	// a delivery whose id was seen already.
	DeliveryHeader = signature.DeliveryHeader
)

// Errors of VerifySignature and VerifyWebhook, to test with errors.Is.
var (
	ErrNoSignature  = signature.ErrNoSignature
	ErrBadSignature = signature.ErrBadSignature
	ErrTooOld       = signature.ErrTooOld
)

// VerifySignature checks a delivery's Latchkey-Signature header against the
// raw body and the webhook's secret, accepting a timestamp within tolerance
// of now (5 minutes when 0), so that a replayed delivery is refused.
func VerifySignature(secret, header string, body []byte, now time.Time, tolerance time.Duration) error {
	return signature.Verify(secret, header, body, now, tolerance)
}

// maxEvent bounds the body VerifyWebhook reads.
const maxEvent = 1 << 20

// VerifyWebhook reads a delivery's body from r (at most 1 MiB), verifies
// its signature with secret at the current time, and decodes the event.
// An endpoint answers 2xx once it has the event; any other answer, or none,
// makes Latchkey retry.
func VerifyWebhook(r *http.Request, secret string) (*Event, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxEvent+1))
	if err != nil {
		return nil, fmt.Errorf("latchkey client: reading the webhook delivery: %w", err)
	}
	if len(body) > maxEvent {
		return nil, fmt.Errorf("latchkey client: the webhook delivery is larger than %d bytes", maxEvent)
	}
	if err := signature.Verify(secret, r.Header.Get(SignatureHeader), body, time.Now(), 0); err != nil {
		return nil, err
	}
	var ev Event
	if err := json.Unmarshal(body, &ev); err != nil {
		return nil, fmt.Errorf("latchkey client: the webhook delivery is not an event: %w", err)
	}
	return &ev, nil
}
