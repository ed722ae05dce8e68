package demoprovider

import "html/template"

// The pages share one inline style sheet; they load nothing from elsewhere.
const layoutHead = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{block "title" .}}Demo provider{{end}}</title>
<style>
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;background:#f4f5f7;color:#1d2330;margin:0}
main{max-width:26rem;margin:4rem auto;background:#fff;border-radius:10px;padding:2rem;box-shadow:0 2px 12px rgba(0,0,0,.08)}
h1{font-size:1.3rem;margin:0 0 1rem}
label{display:block;margin:.8rem 0 .3rem;font-weight:600}
input[type=text],input[type=password]{width:100%;box-sizing:border-box;padding:.55rem;border:1px solid #c5cad3;border-radius:6px;font-size:1rem}
button{padding:.6rem 1.2rem;border:0;border-radius:6px;font-size:1rem;cursor:pointer;margin-top:1.2rem}
.primary{background:#2454d6;color:#fff}.secondary{background:#e4e7ec;color:#1d2330}
.hint{background:#fff8e1;border:1px solid #f1d27a;border-radius:6px;padding:.6rem;font-size:.9rem}
.error{background:#fdecea;border:1px solid #f5b5ae;border-radius:6px;padding:.6rem}
ul{padding-left:1.2rem} code{background:#eef0f4;padding:.1rem .3rem;border-radius:4px}
</style></head><body><main>`

const layoutFoot = `</main></body></html>`

func page(name, body string) *template.Template {
	return template.Must(template.New(name).Parse(layoutHead + body + layoutFoot))
}

var loginTmpl = page("login", `
<h1>Sign in to the demo provider</h1>
<p><strong>{{.Client}}</strong> asks you to sign in.</p>
<p class="hint">This is a demo: any user name works, and the password is <code>{{.Password}}</code>.</p>
{{with .Error}}<p class="error">{{.}}</p>{{end}}
<form method="post" action="/login">
{{range $k, $v := .Params}}<input type="hidden" name="{{$k}}" value="{{index $v 0}}">{{end}}
<label for="username">User name</label><input id="username" name="username" type="text" autocomplete="username" required autofocus>
<label for="password">Password</label><input id="password" name="password" type="password" autocomplete="current-password" required>
<button class="primary" type="submit">Sign in</button>
</form>`)

var consentTmpl = page("consent", `
<h1>Allow access?</h1>
<p>Signed in as <strong>{{.User}}</strong>.</p>
<p><strong>{{.Client}}</strong> wants access to:</p>
{{if .Scopes}}<ul>{{range .Scopes}}<li><code>{{.}}</code></li>{{end}}</ul>{{else}}<p>your basic profile.</p>{{end}}
<form method="post" action="/authorize">
{{range $k, $v := .Params}}<input type="hidden" name="{{$k}}" value="{{index $v 0}}">{{end}}
<input type="hidden" name="csrf" value="{{.CSRF}}">
<button class="primary" type="submit" name="decision" value="allow">Allow</button>
<button class="secondary" type="submit" name="decision" value="deny">Deny</button>
</form>`)

var errorTmpl = page("error", `
<h1>Authorization error</h1>
<p class="error">{{.Message}}</p>`)

var homeTmpl = page("home", `
<h1>Latchkey demo provider</h1>
<p>A small OAuth 2 authorization server for trying Latchkey. Client: <strong>{{.Client}}</strong>.
Any user name signs in with the password <code>{{.Password}}</code>.</p>
<ul>
<li><code>GET /authorize</code>: authorization endpoint (PKCE S256 supported)</li>
<li><code>POST /token</code>: token endpoint (authorization_code, refresh_token)</li>
<li><code>GET /api/me</code>: the signed-in user, with <code>Authorization: Bearer …</code></li>
</ul>`)
