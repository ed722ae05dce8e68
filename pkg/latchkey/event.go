package latchkey

import "time"

// EventType names what happened to a connection, as webhooks announce it.
type EventType string

// Event types.
const (
	EventConnectionCreated       EventType = "connection.created"        // a user (or org) completed a flow
	EventConnectionRefreshed     EventType = "connection.refreshed"      // a refresh (RFC 6749 §6) stored a new token
	EventConnectionRefreshFailed EventType = "connection.refresh_failed" // refreshes failed too many times in a row
	EventConnectionNeedsReauth   EventType = "connection.needs_reauth"   // the provider refused the refresh token
	EventConnectionDeleted       EventType = "connection.deleted"        // the connection was disconnected
)

// EventTypes lists every event type, in the order of their life cycle.
var EventTypes = []EventType{EventConnectionCreated, EventConnectionRefreshed, EventConnectionRefreshFailed,
	EventConnectionNeedsReauth, EventConnectionDeleted}

// Valid reports whether t is a known event type.
func (t EventType) Valid() bool {
	for _, k := range EventTypes {
		if t == k {
			return true
		}
	}
	return false
}

// Event is something that happened to a connection. It names the
// connection and its status, and for a failure the provider's error code
// and description; it never carries a token or any other setting value.
type Event struct {
	ID        string           `json:"id"`
	Type      EventType        `json:"type"`
	CreatedAt time.Time        `json:"created_at"`
	App       string           `json:"app"`
	Org       string           `json:"org"`
	User      string           `json:"user,omitempty"`
	Config    string           `json:"config"`
	Status    ConnectionStatus `json:"status,omitempty"`
	Error     *EventError      `json:"error,omitempty"`
}

// EventError is why a refresh failed: the provider's error code and
// description (RFC 6749 §5.2) when it gave them, else Latchkey's own safe
// description of the failure (a timeout, an HTTP status).
type EventError struct {
	Code        string `json:"code,omitempty"`
	Description string `json:"description,omitempty"`
}
