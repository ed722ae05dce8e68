package latchkey

// CatalogInfo is what the provider catalog shows of an entry besides the
// app's label and description: the category it is listed under, the page of
// the provider's own documentation the entry's facts come from, and a logo.
type CatalogInfo struct {
	// Category is the list the entry appears under (crm, chat, …).
	Category string `json:"category" yaml:"category"`
	// DocsURL is the provider's page the entry's facts come from.
	DocsURL string `json:"docs_url" yaml:"docs_url"`
	// LogoURL is the provider's icon.
	LogoURL string `json:"logo_url,omitempty" yaml:"logo_url,omitempty"`
	// Notes are facts of the provider that the document cannot check, such
	// as an unconfirmed endpoint or a registration step.
	Notes string `json:"notes,omitempty" yaml:"notes,omitempty"`
}
