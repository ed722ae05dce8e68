package catalog_test

import (
	"flag"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/latchkey/latchkey/configs"
	"github.com/latchkey/latchkey/pkg/catalog"
	"github.com/latchkey/latchkey/pkg/latchkey"
)

var update = flag.Bool("update", false, "rewrite docs/providers.md from the catalog")

// The catalog holds at least 150 providers, every grant among them.
func TestCatalogSize(t *testing.T) {
	cat := mustCatalog(t)
	if cat.Len() < 150 {
		t.Errorf("got %d entries, want at least 150", cat.Len())
	}
	var cc int
	for _, e := range cat.List(catalog.Query{}) {
		for _, g := range e.Grants {
			if g == latchkey.GrantClientCredentials {
				cc++
			}
		}
	}
	if cc < 10 {
		t.Errorf("got %d entries with client credentials, want at least 10", cc)
	}
}

// Search matches names, labels and descriptions without regard to case;
// category keeps one category.
func TestListSearchAndCategory(t *testing.T) {
	cat := mustCatalog(t)
	got := cat.List(catalog.Query{Search: "GOOGLE", Category: "suite"})
	if len(got) < 5 {
		t.Fatalf("search GOOGLE in suite: got %d entries, want the Google products", len(got))
	}
	for _, e := range got {
		if e.Category != "suite" || !strings.Contains(strings.ToLower(e.Label+e.Name+e.Description), "google") {
			t.Errorf("%s: got category %s, want suite entries about Google", e.Name, e.Category)
		}
	}
	if got := cat.List(catalog.Query{Search: "no such provider at all"}); len(got) != 0 {
		t.Errorf("got %d entries for a search that matches none", len(got))
	}
	e, ok := cat.Get("salesforce")
	if !ok || len(e.Grants) != 2 || !contains(e.Settings, "login_host") || !contains(e.Quirks, "known lifetime") {
		t.Errorf("salesforce: got %+v, want both grants, the login_host setting and its known lifetime", e)
	}
	// NewApp copies: changing the app leaves the catalog alone.
	app, err := cat.NewApp("salesforce", "crm")
	if err != nil {
		t.Fatal(err)
	}
	app.OAuthConfigs[0].Scopes[0] = "changed"
	if again, _ := cat.Get("salesforce"); again.App.OAuthConfigs[0].Scopes[0] == "changed" || app.Name != "crm" {
		t.Error("NewApp shares the catalog's document")
	}
	if _, err := cat.NewApp("nope", ""); latchkey.ErrorCode(err) != latchkey.ENOTFOUND {
		t.Errorf("unknown entry: got %v, want not found", err)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// A document without its catalog block, in an unknown category, or named
// unlike its file is refused when the catalog loads, naming the file.
func TestLoadRefusesBadEntries(t *testing.T) {
	good := "name: x\nlabel: X\ncatalog: {category: crm, docs_url: https://x.example/docs}\noauth_configs:\n" +
		"  - {name: x, link_url: https://x.example/a, token_url: https://x.example/t}\n"
	if _, err := catalog.Load(fstest.MapFS{"x.yaml": {Data: []byte(good)}}); err != nil {
		t.Fatalf("a minimal entry: %v", err)
	}
	for name, doc := range map[string]string{
		"no catalog block":  strings.Replace(good, "catalog: {category: crm, docs_url: https://x.example/docs}\n", "", 1),
		"unknown category":  strings.Replace(good, "crm", "toys", 1),
		"named unlike file": strings.Replace(good, "name: x", "name: y", 1),
		"bad template":      strings.Replace(good, "https://x.example/t", "https://x.example/{{nope}}", 1),
	} {
		if _, err := catalog.Load(fstest.MapFS{"x.yaml": {Data: []byte(doc)}}); err == nil || !strings.Contains(err.Error(), "x.yaml") {
			t.Errorf("%s: got %v, want an error naming x.yaml", name, err)
		}
	}
}

// docs/providers.md is the catalog's table; go test ./pkg/catalog -run
// TestProvidersDoc -update rewrites it.
func TestProvidersDoc(t *testing.T) {
	want := mustCatalog(t).Markdown()
	path := filepath.Join("..", "..", "docs", "providers.md")
	if *update {
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Fatal("docs/providers.md differs from the catalog: run go test ./pkg/catalog -run TestProvidersDoc -update")
	}
}

// No Go code outside this package names a provider of the catalog: every
// quirk is configuration. Identifiers and string literals of non-test Go
// files are checked (comments may cite a provider as an example). The
// fake providers of pkg/providertest, a package only tests import, are
// named after the providers they imitate, and the store's conformance suite,
// whose data names configs after providers, are left out (testSupport); the
// test checks that only tests import them.
func TestNoProviderNamesInCode(t *testing.T) {
	cat := mustCatalog(t)
	var names []string
	for _, e := range cat.List(catalog.Query{}) {
		for _, part := range strings.Split(e.Name, "-") {
			if len(part) >= 4 && !commonWords[part] {
				names = append(names, regexp.QuoteMeta(part))
			}
		}
	}
	re := regexp.MustCompile(`(?i)\b(` + strings.Join(names, "|") + `)\b`)
	root := filepath.Join("..", "..")
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch d.Name() {
			case "node_modules", ".git", "testdata", "ui":
				return filepath.SkipDir
			}
			return nil
		}
		rel, _ := filepath.Rel(root, path)
		if !strings.HasSuffix(path, ".go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if strings.HasSuffix(path, "_test.go") {
			return nil
		}
		for _, pkg := range testSupport {
			if strings.HasPrefix(filepath.ToSlash(rel), pkg+"/") {
				return nil
			}
			if strings.Contains(string(src), `"github.com/latchkey/latchkey/`+pkg+`"`) {
				t.Errorf("%s: imports %s outside a test", rel, pkg)
			}
		}
		if strings.HasPrefix(rel, filepath.Join("pkg", "catalog")) {
			return nil
		}
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, path, src, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			var lit string
			switch n := n.(type) {
			case *ast.ImportSpec:
				return false
			case *ast.Ident:
				lit = n.Name
			case *ast.BasicLit:
				if n.Kind != token.STRING {
					return true
				}
				lit = n.Value
			default:
				return true
			}
			if m := re.FindString(lit); m != "" {
				t.Errorf("%s: names the provider %q in code; make the quirk a field of the format", fset.Position(n.Pos()), m)
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// testSupport are the packages only tests import.
var testSupport = []string{"pkg/providertest", "pkg/store/storetest"}

// commonWords are parts of entry names that are ordinary words of Go code
// too (a Close method, a Box type), so they cannot be told from a provider.
var commonWords = map[string]bool{}

func init() {
	for _, w := range strings.Fields(`close front square wave ramp sign line calendar drive tasks contacts
		analytics search console teams todo outlook mail online partner selling exact help scout campaign
		monitor constant contact connect canvas sage lever notion linear monday stack exchange example
		copper mural lucid epic dynamics classroom books desk slice stripe sentry harvest outreach capsule
		whoop snowflake blackboard deel`) {
		commonWords[w] = true
	}
}

// BenchmarkList lists the whole catalog, as GET /api/v1/providers does.
func BenchmarkList(b *testing.B) {
	cat := mustCatalog(b)
	b.ReportMetric(float64(cat.Len()), "entries")
	for b.Loop() {
		if len(cat.List(catalog.Query{})) != cat.Len() {
			b.Fatal("short list")
		}
	}
}

// BenchmarkSearch searches the catalog by text and category.
func BenchmarkSearch(b *testing.B) {
	cat := mustCatalog(b)
	for b.Loop() {
		if len(cat.List(catalog.Query{Search: "calendar", Category: "suite"})) == 0 {
			b.Fatal("no match")
		}
	}
}

// BenchmarkLoad parses, completes and compiles every entry, as the
// server does once at start.
func BenchmarkLoad(b *testing.B) {
	sub, err := fs.Sub(configsProviders(), "providers")
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := catalog.Load(sub); err != nil {
			b.Fatal(err)
		}
	}
}

func configsProviders() fs.FS { return configs.Providers }
