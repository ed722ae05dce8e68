// Package templates holds the end-user pages Latchkey renders itself: the
// landing page where a user allows access, and the result pages after the
// provider's callback, and the install prompt where an org fills the app's
// org-level settings, and the page where a person authorizes an OAuth app
// to use Latchkey's own API. They use no third-party resources and work without
// JavaScript.
package templates

import (
	"embed"
	"html/template"
)

//go:embed *.html
var files embed.FS

// Pages parses every page. Each page defines "title" and "content" and is
// rendered through "layout".
func Pages() (map[string]*template.Template, error) {
	pages := map[string]*template.Template{}
	for _, name := range []string{"landing.html", "result.html", "install.html", "authorize.html"} {
		t, err := template.New(name).ParseFS(files, "layout.html", name)
		if err != nil {
			return nil, err
		}
		pages[name] = t
	}
	return pages, nil
}
