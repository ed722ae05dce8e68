package catalog

import (
	"fmt"
	"strings"
)

// Markdown renders docs/providers.md: one table row per entry with its
// name, category, grants, quirks and documentation link. The catalog test
// keeps the committed file equal to it.
func (c *Catalog) Markdown() string {
	var b strings.Builder
	b.WriteString("# The provider catalog\n\n")
	b.WriteString("Generated from `configs/providers/` by `go test ./pkg/catalog -run TestProvidersDoc -update`; do not edit.\n")
	fmt.Fprintf(&b, "%d providers. Start an app from one with `latchkey providers create NAME` or\n", c.Len())
	b.WriteString("`POST /api/v1/providers/{name}/app`; the quirks are fields of each document, explained in its comments.\n\n")
	b.WriteString("| Name | Label | Category | Auth | Quirks | Docs |\n|---|---|---|---|---|---|\n")
	for _, e := range c.entries {
		auth := strings.ReplaceAll(strings.Join(e.Grants, ", "), "_", " ")
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s | [docs](%s) |\n", e.Name, cell(e.Label), e.Category, auth,
			cell(strings.Join(e.Quirks, ", ")), e.DocsURL)
	}
	return b.String()
}

func cell(s string) string { return strings.ReplaceAll(s, "|", "\\|") }
