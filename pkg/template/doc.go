// Package template renders the templates of Latchkey's OAuth configs: link
// URLs, token request bodies and header values whose placeholders are filled
// with setting values supplied by admins, organizations and providers.
//
// The syntax is Go's text/template with a curated set of sprig functions, plus
// the seed syntax of the original platform: a bare {{client_id}} means the
// value named client_id, exactly like {{.client_id}}. An action that is only
// {{name}} is always a value, even when a function has that name ({{sub}} is
// the value sub); elsewhere (arguments, pipelines, if) an identifier is a
// function when one has that name and a value otherwise. Values are strings.
// Inside with and range, dot is the current element and values are reached
// as $.name. A value missing from the map given to Render is a
// *MissingValueError.
//
// Every template is compiled once for a Context (Text, JSONBody, URL, Header
// or Value). Like html/template, Compile follows the lexical state of the
// literal text through the parse tree and appends an escaping function to the
// pipeline of every action, so that a value can never change the structure of
// what it is rendered into:
//
//   - JSONBody: an action where a JSON value is expected renders as a JSON
//     string literal; an action inside a JSON string renders escaped into it.
//     Values cannot add keys, close objects or appear in keys. A value that
//     is not valid UTF-8, which JSON cannot carry, fails the render with an
//     error naming it, never replaced unseen.
//   - URL: scheme, userinfo, host and port are literal; a value in the host
//     must be one DNS label; values in the path are path-escaped, in the query
//     and fragment query-escaped. The rendered URL is parsed and checked.
//   - Header and Text: values are inserted as is, but a rendered result that
//     contains CR, LF or NUL is refused (Header also refuses the other control
//     characters but tab), never silently stripped.
//   - Value: one parameter value that its caller encodes for where it goes
//     (a form or JSON body parameter, a Basic credential): any string.
//
// Branches of if, with and range must leave the text in the same lexical
// state, or Compile fails.
//
// Rendering is bounded, because values and templates come from users:
// define, template and block are refused (no recursion); range over an integer
// literal is refused at Compile; every render may run at most
// MaxIterations range iterations in total and MaxRenderTime of wall time; the
// output is limited to MaxOutput bytes; every function result is limited to
// MaxOutput bytes of strings and elements; functions that allocate in
// proportion to a number (repeat, until, seq, indent, ...) or generate keys
// are not available (see dropped in funcs.go, and FuncNames).
//
// Errors never contain a value, only the template's name, the value's name
// and the place in the template source: values may be secrets.
package template
