// Package template renders the templates of Latchkey's OAuth configs: link
// and token URLs, JSON request bodies and header values, over setting values
// that anyone (an admin, an org, a provider) may have written.
//
// Templates are Go text/template with a curated sprig, and the seed syntax
// {{client_id}} works as written. They are compiled once, when a config is
// saved, and escaped by context, as html/template does for HTML: every action
// is given an escaper for the place it stands in,
//
//   - JSONBody: outside a JSON string a value becomes a JSON string literal;
//     inside one it is escaped into it. No value can add a key.
//   - URL: a value in the host must be a host label, in the path it is one
//     escaped segment, in the query or fragment it is query-escaped. No value
//     can change the scheme or the host, add a segment or add a parameter.
//   - Header: a value holding CR, LF or NUL is refused.
//   - Text: likewise refused; otherwise inserted as it is.
//
// Rendering is bounded: templates have no loops or sub-templates (range,
// define, template and block are refused at compile time), the functions that
// can exhaust memory or CPU are not offered, every function result and the
// output are capped in size, so a render costs at most a fixed amount of
// work per action.
package template
