package flow

import "strings"

// PublicURL returns the address users reach Latchkey at: the ConnectURL
// without its last path segment ("https://auth.example.com/connect" gives
// "https://auth.example.com"). Pages outside a flow, such as the install
// prompt, build their links on it.
func (e *Engine) PublicURL() string {
	u := strings.TrimSuffix(e.cfg.ConnectURL, "/")
	if i := strings.LastIndex(u, "/"); i > len("https://") {
		return u[:i]
	}
	return u
}
