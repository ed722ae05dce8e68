// Package js holds Latchkey's browser connect SDK (@latchkey/connect): its
// TypeScript source in src/, built by tsc into dist/ (an ES module and its
// type declarations), which is committed so that the server needs no Node.js
// to serve it. Rebuild dist/ with `npm ci && npm run build` in this folder
// after changing src/, and commit it.
package js

import _ "embed"

// ConnectJS is dist/index.js, the SDK as an ES module, which Latchkey serves
// at /sdk/connect.js.
//
//go:embed dist/index.js
var ConnectJS []byte
