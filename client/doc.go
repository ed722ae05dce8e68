// Package client is the Go client of Latchkey's HTTP API (/api/v1): apps,
// installations and install links, connect links, token and setting reads,
// declared API calls and the passthrough proxy, webhooks (and the
// verification of their deliveries), and API keys.
//
// A backend makes one Client and shares it:
//
//	lk, err := client.New("https://latchkey.example.com", client.WithAPIKey(os.Getenv("LATCHKEY_API_KEY")))
//	link, err := lk.CreateLink(ctx, client.ConnectionKey{App: "crm", Org: "acme", User: "u-42", Config: "hubspot"}, nil)
//	// hand link.URL to the browser (the connect SDK at /sdk/connect.js opens it)
//	tok, err := lk.Token(ctx, client.ConnectionKey{App: "crm", Org: "acme", User: "u-42", Config: "hubspot"})
//
// Every method takes a context and sends one request. A refusal by Latchkey
// is an *Error, with the HTTP status, the API's error code, its message, the
// fields it names and the provider's own error when a provider refused:
//
//	var e *client.Error
//	if errors.As(err, &e) && e.Code == client.CodeNeedsReauth { … ask the user to connect again … }
//
// The app document is pkg/latchkey's App, the type the server validates and
// stores, so that a document read with GetApp can be changed and put back
// with PutApp unchanged in shape; every other answer has a type of this
// package, the API's JSON and nothing more. The package does not import the
// server.
package client
