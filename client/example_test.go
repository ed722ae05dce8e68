package client_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http"
	"os"
	"time"

	"github.com/latchkey/latchkey/client"
)

// A backend creates a connect link for its signed-in user, and later reads
// the user's token or lets Latchkey call the provider.
func Example() {
	ctx := context.Background()
	lk, err := client.New("http://127.0.0.1:8080",
		client.WithAPIKey(os.Getenv("LATCHKEY_API_KEY")),
		client.WithHTTPClient(&http.Client{Timeout: 30 * time.Second}))
	if err != nil {
		log.Fatal(err)
	}
	key := client.ConnectionKey{App: "demo", Org: "acme", User: "alice", Config: "demo"}

	// The browser opens link.URL, with the connect SDK's connect({url}).
	link, err := lk.CreateLink(ctx, key, &client.LinkOptions{Popup: true, ReturnTo: "http://127.0.0.1:8081/"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("open", link.URL)

	// Once connected: a declared API of the app's document.
	res, err := lk.CallAPI(ctx, "demo", "acme", "alice", "me", nil)
	var e *client.Error
	switch {
	case errors.As(err, &e) && e.Code == client.CodeNeedsReauth:
		fmt.Println("alice must connect again")
	case err != nil:
		log.Fatal(err)
	default:
		var me struct{ ID, Name string }
		if err := res.Decode(&me); err != nil {
			log.Fatal(err)
		}
		fmt.Println("signed in at the provider as", me.Name)
	}
}

// A webhook endpoint checks each delivery's signature before trusting it.
func ExampleVerifyWebhook() {
	secret := os.Getenv("LATCHKEY_WEBHOOK_SECRET") // shown once by CreateWebhook
	http.HandleFunc("/latchkey/events", func(w http.ResponseWriter, r *http.Request) {
		ev, err := client.VerifyWebhook(r, secret)
		if err != nil {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		log.Printf("%s: %s of %s/%s", ev.Type, ev.Config, ev.Org, ev.User)
		w.WriteHeader(http.StatusNoContent)
	})
}
