package httpapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"sort"
	"strings"
	"sync"

	"github.com/labstack/echo/v4"

	"github.com/latchkey/latchkey/pkg/httpapi/openapi"
)

// docsRoutes serves the OpenAPI document at GET /api/v1/openapi.json and,
// at GET /docs, a reference rendered from it on the server: plain HTML and
// CSS, no script, so it passes the pages' Content-Security-Policy and
// needs nothing but the binary. Neither needs a key: the document holds
// no secret.
func (s *Server) docsRoutes(e *echo.Echo) {
	e.GET("/api/v1/openapi.json", serveOpenAPI)
	e.GET("/docs", serveDocs)
}

func serveOpenAPI(c echo.Context) error {
	b, err := openapi.JSON()
	if err != nil {
		return err
	}
	return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, b)
}

var (
	docsOnce sync.Once
	docsPage []byte
	docsErr  error
)

func serveDocs(c echo.Context) error {
	docsOnce.Do(func() { docsPage, docsErr = renderDocs() })
	if docsErr != nil {
		return docsErr
	}
	return c.HTMLBlob(http.StatusOK, docsPage)
}

// docOperation is one operation of the document as the reference shows it.
type docOperation struct {
	ID, Method, Path, Summary, Description string
	Public                                 bool
	Params                                 []docParam
	Bodies                                 []docMedia
	Responses                              []docResponse
}

type docParam struct {
	Name, In, Description, Schema string
	Required                      bool
}

type docMedia struct{ Type, Schema, Example string }

type docResponse struct {
	Status, Description string
	Media               []docMedia
}

type docTag struct {
	Name, Description string
	Operations        []docOperation
}

type docSchema struct{ Name, JSON string }

// renderDocs renders the reference from the document's JSON.
func renderDocs() ([]byte, error) {
	raw, err := openapi.JSON()
	if err != nil {
		return nil, err
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, err
	}
	comps := obj(doc["components"])
	resolve := func(v any) map[string]any {
		m := obj(v)
		for i := 0; i < 4; i++ {
			ref, ok := m["$ref"].(string)
			if !ok {
				break
			}
			parts := strings.Split(strings.TrimPrefix(ref, "#/components/"), "/")
			if len(parts) != 2 {
				break
			}
			m = obj(obj(comps[parts[0]])[parts[1]])
		}
		return m
	}
	var tags []docTag
	index := map[string]int{}
	for _, t := range list(doc["tags"]) {
		tm := obj(t)
		name := str(tm["name"])
		index[name] = len(tags)
		tags = append(tags, docTag{Name: name, Description: str(tm["description"])})
	}
	paths := obj(doc["paths"])
	for _, p := range sortedKeys(paths) {
		item := obj(paths[p])
		for _, method := range []string{"get", "head", "post", "put", "patch", "delete"} {
			op, ok := item[method].(map[string]any)
			if !ok {
				continue
			}
			d := docOperation{ID: str(op["operationId"]), Method: strings.ToUpper(method), Path: p,
				Summary: str(op["summary"]), Description: str(op["description"])}
			if sec, ok := op["security"].([]any); ok && len(sec) == 0 {
				d.Public = true
			}
			for _, prm := range append(list(item["parameters"]), list(op["parameters"])...) {
				pm := resolve(prm)
				d.Params = append(d.Params, docParam{Name: str(pm["name"]), In: str(pm["in"]), Description: str(pm["description"]),
					Required: pm["required"] == true, Schema: schemaName(pm["schema"])})
			}
			if rb := resolve(op["requestBody"]); len(rb) > 0 {
				d.Bodies = media(obj(rb["content"]))
			}
			resps := obj(op["responses"])
			for _, code := range sortedKeys(resps) {
				r := resolve(resps[code])
				d.Responses = append(d.Responses, docResponse{Status: code, Description: str(r["description"]), Media: media(obj(r["content"]))})
			}
			tag := "operations"
			if ts := list(op["tags"]); len(ts) > 0 {
				tag = str(ts[0])
			}
			i, ok := index[tag]
			if !ok {
				index[tag] = len(tags)
				i = len(tags)
				tags = append(tags, docTag{Name: tag})
			}
			tags[i].Operations = append(tags[i].Operations, d)
		}
	}
	var schemas []docSchema
	ss := obj(comps["schemas"])
	for _, name := range sortedKeys(ss) {
		b, _ := json.MarshalIndent(ss[name], "", "  ")
		schemas = append(schemas, docSchema{Name: name, JSON: string(b)})
	}
	info := obj(doc["info"])
	var buf bytes.Buffer
	err = docsTemplate.Execute(&buf, map[string]any{"Title": str(info["title"]), "Version": str(doc["openapi"]),
		"Description": str(info["description"]), "Tags": tags, "Schemas": schemas})
	return buf.Bytes(), err
}

func media(content map[string]any) []docMedia {
	var out []docMedia
	for _, t := range sortedKeys(content) {
		m := obj(content[t])
		dm := docMedia{Type: t, Schema: schemaName(m["schema"])}
		if ex, ok := m["example"]; ok {
			b, _ := json.MarshalIndent(ex, "", "  ")
			dm.Example = string(b)
		}
		out = append(out, dm)
	}
	return out
}

// schemaName names a schema briefly: its component's name, or its JSON.
func schemaName(v any) string {
	m := obj(v)
	if len(m) == 0 {
		return ""
	}
	if ref, ok := m["$ref"].(string); ok && len(m) == 1 {
		return ref[strings.LastIndex(ref, "/")+1:]
	}
	b, _ := json.Marshal(m)
	s := string(b)
	for _, r := range []string{"#/components/schemas/", `{"$ref":"`} {
		s = strings.ReplaceAll(s, r, "")
	}
	return s
}

func obj(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

func list(v any) []any {
	l, _ := v.([]any)
	return l
}

func str(v any) string {
	if v == nil {
		return ""
	}
	if s, ok := v.(string); ok {
		return s
	}
	return fmt.Sprint(v)
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

var docsTemplate = template.Must(template.New("docs").Funcs(template.FuncMap{"contains": strings.Contains}).Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}} reference</title>
<style>
body{font:15px/1.5 system-ui,sans-serif;margin:0;color:#1d2330;display:flex}
nav{position:sticky;top:0;height:100vh;overflow:auto;width:18rem;flex:none;background:#f4f5f8;padding:1rem;box-sizing:border-box;font-size:13px}
nav a{display:block;color:#2a4fb0;text-decoration:none;padding:1px 0}
nav h3{margin:1rem 0 .2rem;font-size:13px;text-transform:uppercase;color:#667}
main{padding:1rem 2rem;max-width:60rem;min-width:0}
section.op{border:1px solid #dde;border-radius:6px;padding:.6rem 1rem;margin:1rem 0}
.m{display:inline-block;min-width:4.2rem;font-weight:700;font-family:monospace}
.GET{color:#1b7f3b}.POST{color:#2a4fb0}.PUT{color:#a15c00}.PATCH{color:#7a3fb0}.DELETE{color:#b3261e}.HEAD{color:#555}
code,pre{font-family:ui-monospace,monospace;font-size:13px}
pre{background:#f4f5f8;padding:.5rem;overflow:auto;white-space:pre-wrap}
table{border-collapse:collapse;width:100%;font-size:13px}td,th{border-top:1px solid #eee;padding:3px 6px;text-align:left;vertical-align:top}
.public{font-size:12px;color:#667}
</style></head><body>
<nav><strong>{{.Title}}</strong><br><a href="/api/v1/openapi.json">openapi.json</a> (OpenAPI {{.Version}})
{{range .Tags}}{{if .Operations}}<h3>{{.Name}}</h3>{{range .Operations}}<a href="#{{.ID}}" title="{{.Method}} {{.Path}}"><span class="m {{.Method}}">{{.Method}}</span>{{.Summary}}</a>{{end}}{{end}}{{end}}
<h3>schemas</h3>{{range .Schemas}}<a href="#schema-{{.Name}}">{{.Name}}</a>{{end}}
</nav>
<main>
<h1>{{.Title}}</h1>
<pre>{{.Description}}</pre>
{{range .Tags}}{{if .Operations}}<h2 id="tag-{{.Name}}">{{.Name}}</h2><p>{{.Description}}</p>
{{range .Operations}}<section class="op" id="{{.ID}}">
<h3><span class="m {{.Method}}">{{.Method}}</span><code>{{.Path}}</code></h3>
<p>{{.Summary}}{{if .Public}} <span class="public">(no key needed)</span>{{end}}</p>
{{if .Description}}<pre>{{.Description}}</pre>{{end}}
{{if .Params}}<h4>Parameters</h4><table><tr><th>name</th><th>in</th><th>schema</th><th>description</th></tr>
{{range .Params}}<tr><td><code>{{.Name}}</code>{{if .Required}} *{{end}}</td><td>{{.In}}</td><td>{{template "schema" .Schema}}</td><td>{{.Description}}</td></tr>{{end}}</table>{{end}}
{{if .Bodies}}<h4>Request body</h4><table>{{range .Bodies}}<tr><td><code>{{.Type}}</code></td><td>{{template "schema" .Schema}}{{if .Example}}<pre>{{.Example}}</pre>{{end}}</td></tr>{{end}}</table>{{end}}
<h4>Responses</h4><table>{{range .Responses}}<tr><td><strong>{{.Status}}</strong></td><td>{{.Description}}{{range .Media}}<br><code>{{.Type}}</code> {{template "schema" .Schema}}{{if .Example}}<pre>{{.Example}}</pre>{{end}}{{end}}</td></tr>{{end}}</table>
</section>{{end}}{{end}}{{end}}
<h2>Schemas</h2>
{{range .Schemas}}<section class="op" id="schema-{{.Name}}"><h3>{{.Name}}</h3><pre>{{.JSON}}</pre></section>{{end}}
</main></body></html>
{{define "schema"}}{{if and . (not (contains . "{"))}}<a href="#schema-{{.}}"><code>{{.}}</code></a>{{else}}<code>{{.}}</code>{{end}}{{end}}
`))
