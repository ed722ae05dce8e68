package main

import (
	"context"
	"encoding/json"
	"errors"
	"html/template"
	"log/slog"
	"net/http"
	"regexp"
	"sort"
	"time"

	"github.com/latchkey/latchkey/client"
)

// Config configures the example's handler.
type Config struct {
	// Latchkey is the client the backend calls Latchkey with.
	Latchkey *client.Client
	// PublicURL is this app's URL as browsers reach it; connect links
	// return there (it must be among the app's allowed_return_urls).
	PublicURL string
	// App, OAuthConfig, Org and API name what the Connect button connects
	// and what the result page calls.
	App, OAuthConfig, Org, API string
	Logger                     *slog.Logger
}

// userCookie holds the signed-in user's name. A real app has its own
// sign-in; what matters here is that the backend knows who the user is.
const userCookie = "example_user"

// validUser is the shape of a user name: what Latchkey takes as a user id.
var validUser = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

type example struct {
	Config
	pages *template.Template
}

// New returns the example's handler. It installs the app for the org when
// it is not installed yet and the API key may (the demo app asks an org for
// nothing); a key that may not only gets a warning.
func New(ctx context.Context, cfg Config) (http.Handler, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	ictx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	_, err := cfg.Latchkey.GetInstallation(ictx, cfg.App, cfg.Org)
	var e *client.Error
	if errors.As(err, &e) && e.Code == client.CodeNotFound {
		if _, err = cfg.Latchkey.PutInstallation(ictx, cfg.App, cfg.Org, nil); err == nil {
			cfg.Logger.Info("installed the app for the org", "app", cfg.App, "org", cfg.Org)
		}
	}
	if err != nil {
		cfg.Logger.Warn("the app is not installed for the org, and installing it failed; links will be refused until it is",
			"app", cfg.App, "org", cfg.Org, "error", err)
	}
	x := &example{Config: cfg, pages: template.Must(template.New("pages").Parse(pagesHTML))}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", x.home)
	mux.HandleFunc("POST /signin", x.signIn)
	mux.HandleFunc("POST /signout", x.signOut)
	mux.HandleFunc("POST /link", x.link)
	mux.HandleFunc("GET /result", x.result)
	return mux, nil
}

// user returns the signed-in user's name, or "".
func user(r *http.Request) string {
	c, err := r.Cookie(userCookie)
	if err != nil || !validUser.MatchString(c.Value) {
		return ""
	}
	return c.Value
}

type pageData struct {
	User, App, Config, API, SDK string
	Error                       string
	// The result page: the provider's status and the fields it answered.
	Connected bool
	Status    int
	Fields    []field
	Raw       string
}

type field struct{ Name, Value string }

func (x *example) render(w http.ResponseWriter, status int, name string, d pageData) {
	d.App, d.Config, d.API, d.SDK = x.App, x.OAuthConfig, x.API, x.Latchkey.BaseURL()+"/sdk/connect.js"
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if err := x.pages.ExecuteTemplate(w, name, d); err != nil {
		x.Logger.Error("rendering a page", "page", name, "error", err)
	}
}

func (x *example) home(w http.ResponseWriter, r *http.Request) {
	x.render(w, http.StatusOK, "home", pageData{User: user(r)})
}

func (x *example) signIn(w http.ResponseWriter, r *http.Request) {
	name := r.PostFormValue("name")
	if !validUser.MatchString(name) {
		x.render(w, http.StatusUnprocessableEntity, "home", pageData{Error: "A name is letters, digits, dots, dashes and underscores, at most 64."})
		return
	}
	http.SetCookie(w, &http.Cookie{Name: userCookie, Value: name, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode})
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func (x *example) signOut(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: userCookie, Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteLaxMode})
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// link creates a connect link for the signed-in user, with the Go client,
// when the Connect button is pressed: links are single-use and short-lived.
func (x *example) link(w http.ResponseWriter, r *http.Request) {
	u := user(r)
	if u == "" {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "sign in first"})
		return
	}
	link, err := x.Latchkey.CreateLink(r.Context(), client.ConnectionKey{App: x.App, Org: x.Org, User: u, Config: x.OAuthConfig},
		&client.LinkOptions{Popup: true, ReturnTo: x.PublicURL + "/"})
	if err != nil {
		x.Logger.Warn("creating a connect link", "user", u, "error", err)
		writeJSON(w, http.StatusBadGateway, map[string]string{"error": err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"url": link.URL})
}

// result calls the declared API for the signed-in user and lists what the
// provider answered.
func (x *example) result(w http.ResponseWriter, r *http.Request) {
	u := user(r)
	if u == "" {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	d := pageData{User: u}
	res, err := x.Latchkey.CallAPI(r.Context(), x.App, x.Org, u, x.API, nil)
	var e *client.Error
	switch {
	case errors.As(err, &e) && (e.Code == client.CodeNotFound || e.Code == client.CodeNeedsReauth):
		d.Error = "You are not connected yet (" + e.Message + "). Press Connect first."
		x.render(w, http.StatusOK, "result", d)
		return
	case err != nil:
		x.Logger.Warn("calling the API", "api", x.API, "user", u, "error", err)
		d.Error = err.Error()
		x.render(w, http.StatusBadGateway, "result", d)
		return
	}
	d.Connected, d.Status, d.Raw = true, res.StatusCode, string(res.Body)
	var obj map[string]any
	if res.OK() && json.Unmarshal(res.Body, &obj) == nil {
		for k, v := range obj {
			b, _ := json.Marshal(v)
			s := string(b)
			if str, ok := v.(string); ok {
				s = str
			}
			d.Fields = append(d.Fields, field{Name: k, Value: s})
		}
		sort.Slice(d.Fields, func(i, j int) bool { return d.Fields[i].Name < d.Fields[j].Name })
	}
	x.render(w, http.StatusOK, "result", d)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
