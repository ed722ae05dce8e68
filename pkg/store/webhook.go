package store

import "time"

// Webhook is an HTTPS endpoint of an app that receives its connection
// events. Secret signs each delivery; it is sealed at rest and shown to the
// admin once, when the webhook is created.
type Webhook struct {
	ID  string `json:"id"`
	App string `json:"app"`
	URL string `json:"url"`
	// Events are the event types sent; empty means all of them.
	Events    []string  `json:"events"`
	Secret    string    `json:"-"`
	CreatedAt time.Time `json:"created_at"`
}

// Wants reports whether the webhook receives events of type typ.
func (w *Webhook) Wants(typ string) bool {
	if len(w.Events) == 0 {
		return true
	}
	for _, e := range w.Events {
		if e == typ {
			return true
		}
	}
	return false
}

// Delivery states.
const (
	DeliveryPending   = "pending"   // waiting for its first or next attempt
	DeliveryDelivered = "delivered" // the endpoint answered 2xx
	DeliveryFailed    = "failed"    // every attempt failed; no more are made
)

// WebhookDelivery is one event on its way to one webhook, with the
// attempts made so far.
type WebhookDelivery struct {
	ID        int64  `json:"id"`
	WebhookID string `json:"webhook_id"`
	App       string `json:"app"`
	EventID   string `json:"event_id"`
	EventType string `json:"event_type"`
	// Payload is the JSON body sent: the event, which holds no secret.
	Payload       []byte    `json:"-"`
	State         string    `json:"state"`
	AttemptCount  int       `json:"attempt_count"`
	NextAttemptAt time.Time `json:"next_attempt_at,omitzero"`
	CreatedAt     time.Time `json:"created_at"`
	// Attempts are filled by ListDeliveries, oldest first.
	Attempts []WebhookAttempt `json:"attempts,omitempty"`
}

// WebhookAttempt is one try at a delivery: the endpoint's HTTP status, or
// why no answer came (never a secret).
type WebhookAttempt struct {
	At         time.Time `json:"at"`
	StatusCode int       `json:"status_code,omitempty"`
	Error      string    `json:"error,omitempty"`
	DurationMS int64     `json:"duration_ms"`
}
