package main

// pagesHTML holds the example's two pages: home (sign in, then Connect) and
// result (what the declared API answered).
const pagesHTML = `
{{define "head"}}<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.}} · Latchkey connect example</title>
<style>
body{font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem;color:#1d2330;line-height:1.5}
button,input{font:inherit;padding:.45rem .8rem;border-radius:6px;border:1px solid #8a93a3}
button{background:#2453d4;color:#fff;border-color:#2453d4;cursor:pointer}button[disabled]{opacity:.6}
button.plain{background:#fff;color:#2453d4}
table{border-collapse:collapse;margin:1rem 0}td,th{border:1px solid #c5cad3;padding:.3rem .6rem;text-align:left}
.error{color:#a31515}
</style></head><body>{{end}}

{{define "home"}}{{template "head" "Home"}}
<h1>Latchkey connect example</h1>
{{if .Error}}<p class="error" role="alert">{{.Error}}</p>{{end}}
{{if not .User}}
<form method="post" action="/signin">
  <label for="name">Your name</label>
  <input id="name" name="name" required pattern="[A-Za-z0-9][A-Za-z0-9._\-]{0,63}" autocomplete="username">
  <button id="signin" type="submit">Sign in</button>
</form>
{{else}}
<p>Signed in as <strong id="user">{{.User}}</strong>.</p>
<p>Connect your {{.Config}} account: the backend asks Latchkey for a link, and Latchkey's connect SDK opens it.</p>
<p><button id="connect" type="button" disabled>Connect</button> <span id="outcome" role="status"></span></p>
<p><a href="/result">See what the {{.API}} API returns</a></p>
<form method="post" action="/signout"><button class="plain" type="submit">Sign out</button></form>
<script type="module">
import { connect, redirectResult, ConnectError } from "{{.SDK}}";
const button = document.getElementById("connect"), outcome = document.getElementById("outcome");
// Back from redirect mode (a phone): the tab returned with the result.
if (redirectResult()?.status === "connected") location.assign("/result");
button.addEventListener("click", async () => {
  outcome.textContent = "Connecting…";
  try {
    // The link is created on the click: it is single-use and short-lived.
    await connect({ url: async () => {
      const res = await fetch("/link", { method: "POST" });
      const body = await res.json();
      if (!res.ok) throw new Error(body.error || res.statusText);
      return body.url;
    } });
    outcome.textContent = "Connected.";
    location.assign("/result");
  } catch (e) {
    outcome.textContent = e instanceof ConnectError ? "Not connected (" + e.code + "): " + e.message : "Not connected: " + e.message;
  }
});
button.disabled = false;
window.exampleReady = true;
</script>
{{end}}
</body></html>{{end}}

{{define "result"}}{{template "head" "Result"}}
<h1>What the {{.API}} API returned</h1>
<p>For <strong>{{.User}}</strong>, through Latchkey's declared API call.</p>
{{if .Error}}<p class="error" id="error" role="alert">{{.Error}}</p>{{end}}
{{if .Connected}}
<p>The provider answered HTTP <span id="status">{{.Status}}</span>.</p>
{{if .Fields}}<table id="fields"><thead><tr><th scope="col">Field</th><th scope="col">Value</th></tr></thead><tbody>
{{range .Fields}}<tr><th scope="row">{{.Name}}</th><td>{{.Value}}</td></tr>
{{end}}</tbody></table>{{else}}<pre>{{.Raw}}</pre>{{end}}
{{end}}
<p><a href="/">Back</a></p>
</body></html>{{end}}
`
