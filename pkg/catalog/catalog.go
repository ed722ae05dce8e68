package catalog

import (
	"fmt"
	"io/fs"
	"path"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/latchkey/latchkey/configs"
	"github.com/latchkey/latchkey/pkg/flow"
	"github.com/latchkey/latchkey/pkg/latchkey"
)

// Categories are the categories an entry may be listed under.
var Categories = []string{"suite", "identity", "crm", "support", "chat", "meetings", "project", "developer",
	"storage", "documents", "accounting", "payments", "commerce", "marketing", "social", "hr", "analytics",
	"health", "education", "other"}

// Entry is one provider of the catalog.
type Entry struct {
	Name        string `json:"name"`
	Label       string `json:"label"`
	Description string `json:"description,omitempty"`
	Category    string `json:"category"`
	DocsURL     string `json:"docs_url"`
	LogoURL     string `json:"logo_url,omitempty"`
	// Grants are the grant types of its OAuth configs (RFC 6749 §4.1,
	// §4.4), each once.
	Grants []string `json:"grants"`
	// Configs names its OAuth configs.
	Configs []string `json:"configs"`
	// Settings names the org-level settings an org fills in when it
	// installs an app made from the entry (client id, subdomain, tenant…).
	Settings []string `json:"settings"`
	// Quirks name what the entry declares beyond RFC 6749's defaults.
	Quirks []string `json:"quirks,omitempty"`
	// App is the entry's document with the catalog's defaults filled in.
	App latchkey.App `json:"-"`

	text string // what Search matches, lower-case
}

// Catalog is a loaded, compiled set of entries, sorted by name. It is safe
// for concurrent use; nothing changes it after Load.
type Catalog struct {
	entries []*Entry
	byName  map[string]int
}

// Load reads every *.yaml document at the root of fsys, fills in the
// catalog's defaults (Expand) and compiles it as an app. It fails on the
// first document that does not parse, validate or compile, naming the file,
// or that lacks its catalog block.
func Load(fsys fs.FS) (*Catalog, error) {
	names, err := fs.Glob(fsys, "*.yaml")
	if err != nil {
		return nil, err
	}
	c := &Catalog{byName: map[string]int{}}
	for _, n := range names {
		data, err := fs.ReadFile(fsys, n)
		if err != nil {
			return nil, err
		}
		e, err := parseEntry(data)
		if err != nil {
			return nil, fmt.Errorf("catalog: %s: %w", n, err)
		}
		if want := strings.TrimSuffix(path.Base(n), ".yaml"); e.Name != want {
			return nil, fmt.Errorf("catalog: %s: the document is named %q; name it after its file, %q", n, e.Name, want)
		}
		c.entries = append(c.entries, &e)
	}
	sort.Slice(c.entries, func(i, j int) bool { return c.entries[i].Name < c.entries[j].Name })
	for i, e := range c.entries {
		c.byName[e.Name] = i
	}
	return c, nil
}

// parseEntry parses, completes and compiles one document.
func parseEntry(data []byte) (Entry, error) {
	app, err := latchkey.ParseApp(data)
	if err != nil {
		return Entry{}, err
	}
	if app.Catalog == nil {
		return Entry{}, fmt.Errorf("catalog: the document has no catalog block (category, docs_url)")
	}
	app = Expand(app)
	if err := checkInfo(app); err != nil {
		return Entry{}, err
	}
	if _, err := flow.Compile(app); err != nil {
		return Entry{}, err
	}
	return newEntry(app), nil
}

func checkInfo(app latchkey.App) error {
	var fe latchkey.FieldErrors
	if !slices.Contains(Categories, app.Catalog.Category) {
		fe.Add("catalog.category", "must be one of %s", strings.Join(Categories, ", "))
	}
	if err := latchkey.CheckAbsoluteURL(app.Catalog.DocsURL); err != nil {
		fe.Add("catalog.docs_url", "%v", err)
	}
	if app.Catalog.LogoURL != "" {
		if err := latchkey.CheckAbsoluteURL(app.Catalog.LogoURL); err != nil {
			fe.Add("catalog.logo_url", "%v", err)
		}
	}
	if app.Label == "" {
		fe.Add("label", "is required in a catalog entry")
	}
	return fe.Err("the catalog entry is invalid")
}

func newEntry(app latchkey.App) Entry {
	e := Entry{Name: app.Name, Label: app.Label, Description: app.Description, Category: app.Catalog.Category,
		DocsURL: app.Catalog.DocsURL, LogoURL: app.Catalog.LogoURL, App: app}
	seen := map[string]bool{}
	for _, cfg := range app.OAuthConfigs {
		e.Configs = append(e.Configs, cfg.Name)
		if !seen[cfg.Grant()] {
			seen[cfg.Grant()] = true
			e.Grants = append(e.Grants, cfg.Grant())
		}
	}
	for _, s := range app.Settings {
		if s.Level == latchkey.LevelOrg {
			e.Settings = append(e.Settings, s.Name)
		}
	}
	e.Quirks = Quirks(app)
	e.text = strings.ToLower(strings.Join([]string{e.Name, e.Label, e.Description, e.Category}, "\x00"))
	return e
}

// Query selects entries: Search matches the name, label, description or
// category, ignoring case; Category keeps one category. Empty fields match
// every entry.
type Query struct {
	Search   string
	Category string
}

// List returns the entries that match q, by name. The entries are the
// catalog's own: treat them as read-only (NewApp copies a document).
func (c *Catalog) List(q Query) []*Entry {
	needle := strings.ToLower(strings.TrimSpace(q.Search))
	out := make([]*Entry, 0, len(c.entries))
	for _, e := range c.entries {
		if q.Category != "" && e.Category != q.Category {
			continue
		}
		if needle != "" && !strings.Contains(e.text, needle) {
			continue
		}
		out = append(out, e)
	}
	return out
}

// Len is the number of entries.
func (c *Catalog) Len() int { return len(c.entries) }

// Get returns the entry called name, the catalog's own: treat it as
// read-only.
func (c *Catalog) Get(name string) (*Entry, bool) {
	i, ok := c.byName[name]
	if !ok {
		return nil, false
	}
	return c.entries[i], true
}

// NewApp returns a new app document made from the entry called entry and
// named name (the entry's name when empty): a deep copy that the caller may
// change. An unknown entry is an ENOTFOUND error.
func (c *Catalog) NewApp(entry, name string) (latchkey.App, error) {
	e, ok := c.Get(entry)
	if !ok {
		return latchkey.App{}, latchkey.Errorf(latchkey.ENOTFOUND, "the catalog has no provider %q", entry)
	}
	app := copyApp(e.App)
	if name != "" {
		app.Name = name
	}
	return app, nil
}

var (
	defaultOnce sync.Once
	defaultCat  *Catalog
	defaultErr  error
)

// Default returns the catalog embedded in the binary (configs/providers),
// loaded on first use.
func Default() (*Catalog, error) {
	defaultOnce.Do(func() {
		sub, err := fs.Sub(configs.Providers, "providers")
		if err != nil {
			defaultErr = err
			return
		}
		defaultCat, defaultErr = Load(sub)
	})
	return defaultCat, defaultErr
}
