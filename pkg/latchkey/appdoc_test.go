package latchkey

import (
	"bytes"
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"go/types"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite docs/app-document.md from the Go types")

// docs/app-document.md is the app document field by field, written from the
// doc comments of App and of every struct type its fields reach. The test
// fails when the committed page differs, so CI keeps it current;
// TestAppDocumentDoc -update rewrites it.
func TestAppDocumentDoc(t *testing.T) {
	want, missing := appDocumentMarkdown(t)
	for _, m := range missing {
		t.Errorf("%s has no doc comment: add one in pkg/latchkey", m)
	}
	path := filepath.Join("..", "..", "docs", "app-document.md")
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
		t.Fatal("docs/app-document.md differs from the Go types: run go test ./pkg/latchkey -run TestAppDocumentDoc -update")
	}
}

// docType is a struct type of the package with its doc comment.
type docType struct {
	name string
	doc  string
	st   *ast.StructType
}

// appDocumentMarkdown renders the page, and names the fields that have no
// comment of their own nor one of the group of fields they are written in.
func appDocumentMarkdown(t *testing.T) (string, []string) {
	t.Helper()
	fset := token.NewFileSet()
	pkgs, err := parser.ParseDir(fset, ".", func(fi os.FileInfo) bool {
		return !strings.HasSuffix(fi.Name(), "_test.go")
	}, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	structs := map[string]docType{}
	for _, f := range pkgs["latchkey"].Files {
		for _, d := range f.Decls {
			gd, ok := d.(*ast.GenDecl)
			if !ok || gd.Tok != token.TYPE {
				continue
			}
			for _, s := range gd.Specs {
				ts := s.(*ast.TypeSpec)
				st, ok := ts.Type.(*ast.StructType)
				if !ok {
					continue
				}
				doc := ts.Doc
				if doc == nil {
					doc = gd.Doc
				}
				structs[ts.Name.Name] = docType{name: ts.Name.Name, doc: doc.Text(), st: st}
			}
		}
	}

	// The types in the order a reader meets them: App first, then each
	// struct type the first time a field names it.
	var order []string
	seen := map[string]bool{}
	var visit func(name string)
	visit = func(name string) {
		dt, ok := structs[name]
		if !ok || seen[name] {
			return
		}
		seen[name] = true
		order = append(order, name)
		for _, f := range dt.st.Fields.List {
			if yamlName(f) != "" {
				visit(baseName(f.Type))
			}
		}
	}
	visit("App")

	var b bytes.Buffer
	var missing []string
	b.WriteString(appDocumentIntro)
	for _, name := range order {
		b.WriteString("- [" + name + "](#" + strings.ToLower(name) + ")\n")
	}
	for _, name := range order {
		dt := structs[name]
		fmt.Fprintf(&b, "\n## %s\n\n%s\n", name, paragraph(dt.doc))
		b.WriteString("| Field | Type | Description |\n|---|---|---|\n")
		var prevDoc, prevName string
		prevEnd := -1
		for _, f := range dt.st.Fields.List {
			doc := f.Doc.Text()
			if doc == "" {
				doc = f.Comment.Text()
			}
			// A field written right under a commented one, with no blank
			// line, shares its comment when that comment names it
			// (ClientID and ClientSecret …) or heads a group of fields
			// (Extraction paths …) rather than describing one field.
			if doc == "" && fset.Position(f.Pos()).Line == prevEnd+1 && len(f.Names) > 0 &&
				(strings.Contains(prevDoc, f.Names[0].Name) || !strings.HasPrefix(prevDoc, prevName)) {
				doc = prevDoc
			}
			prevDoc, prevEnd = doc, fset.Position(f.End()).Line
			if len(f.Names) > 0 {
				prevName = f.Names[0].Name
			}
			y := yamlName(f)
			if y == "" {
				continue
			}
			if doc == "" {
				missing = append(missing, name+"."+f.Names[0].Name)
			}
			fmt.Fprintf(&b, "| `%s` | %s | %s |\n", y, typeCell(f.Type, structs), cell(doc))
		}
	}
	return b.String(), missing
}

const appDocumentIntro = `# The app document, field by field

Come here for what each field of an app document means. One document per app, YAML or JSON, saved whole
(` + "`PUT /api/v1/apps/{app}`" + `, ` + "`latchkey apply -f`" + `, ` + "`serve --apps`" + `). For a first document see the
[concepts](concepts.md) and the [README's quickstart](../README.md#quickstart-click-through-a-whole-flow-on-one-machine);
for the rules checked when it is saved (templates, escaping, bounds) see [concepts](concepts.md#the-app-document).

This page is generated from the doc comments of the Go types in ` + "`pkg/latchkey`" + ` (` + "`go test ./pkg/latchkey -run\nTestAppDocumentDoc -update`" + ` rewrites it; CI fails when it is stale). A duration is written as a Go duration string
(` + "`90s`, `5m`, `720h`" + `); a template is a Go template over the app's settings (` + "`{{client_id}}`" + `).

`

// yamlName is the field's name in the document, or "" when the document
// does not carry it.
func yamlName(f *ast.Field) string {
	if f.Tag == nil || len(f.Names) == 0 {
		return ""
	}
	tag := reflect.StructTag(strings.Trim(f.Tag.Value, "`")).Get("yaml")
	name, _, _ := strings.Cut(tag, ",")
	if name == "-" {
		return ""
	}
	return name
}

// baseName is the named type under pointers, slices and maps.
func baseName(e ast.Expr) string {
	switch e := e.(type) {
	case *ast.Ident:
		return e.Name
	case *ast.StarExpr:
		return baseName(e.X)
	case *ast.ArrayType:
		return baseName(e.Elt)
	case *ast.MapType:
		return baseName(e.Value)
	}
	return ""
}

// typeCell writes a field's type as the document sees it.
func typeCell(e ast.Expr, structs map[string]docType) string {
	switch e := e.(type) {
	case *ast.StarExpr:
		return typeCell(e.X, structs)
	case *ast.ArrayType:
		return "list of " + typeCell(e.Elt, structs)
	case *ast.MapType:
		return "map of " + typeCell(e.Key, structs) + " to " + typeCell(e.Value, structs)
	case *ast.Ident:
		if _, ok := structs[e.Name]; ok {
			return "[" + e.Name + "](#" + strings.ToLower(e.Name) + ")"
		}
		switch e.Name {
		case "Duration":
			return "duration"
		case "Level":
			return "`org` or `user`"
		case "bool":
			return "boolean"
		case "int":
			return "integer"
		}
		return e.Name
	}
	return types.ExprString(e)
}

// paragraph joins a comment's lines into one paragraph per blank line.
func paragraph(s string) string {
	var out []string
	for _, p := range strings.Split(strings.TrimSpace(s), "\n\n") {
		out = append(out, strings.Join(strings.Fields(p), " ")+"\n")
	}
	return strings.Join(out, "\n")
}

// cell is a comment on one table row.
func cell(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	return strings.ReplaceAll(s, "|", `\|`)
}
