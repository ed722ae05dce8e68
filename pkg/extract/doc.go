// Package extract reads OAuth 2 token responses and pulls values out of them
// with JSONPath expressions that are compiled once.
//
// A provider's answer is parsed by [ParseResponse] into a JSON object,
// whatever shape it came in: a JSON body (RFC 6749 §5.1), a form-encoded or
// text/plain query string (GitHub unless asked for JSON), or either of them
// under a content type that does not say so. [ReadBody] caps what is read at
// [MaxBodySize], as golang.org/x/oauth2 does.
//
// A [Path] is a JSONPath expression (github.com/PaesslerAG/jsonpath) over the
// full gval language, so that filters such as
// $.tokens[?(@.type == "user")].value and conditions such as $.ok == true
// both work. [Rules] gathers the paths of one OAuth config (seed 002's
// "extraction paths") and [Rules.Extract] turns a parsed answer into a
// [Token], or into the provider's own error (RFC 6749 §5.2) as a
// *latchkey.Error with code EPROVIDER, even when the provider answered
// HTTP 200 (Slack's {"ok": false, "error": "invalid_code"}).
//
// Nothing in this package puts a response body or a token value in an error
// message: errors name paths, keys, content types and sizes only.
package extract
