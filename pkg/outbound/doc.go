// Package outbound builds the HTTP transport of every request Latchkey sends
// to a provider or a receiver: token, refresh and revocation requests,
// proxied and declared API calls, and webhooks.
//
// Its dialer refuses loopback, private (RFC 1918, RFC 4193), link-local
// (which holds the cloud metadata address 169.254.169.254), CGNAT, multicast
// and unspecified addresses. The check runs in the net.Dialer's Control
// function, on the address actually dialled after name resolution, so a
// host name that resolves to a public address once and to a private one the
// next time (DNS rebinding) gains nothing. Operators of self-hosted providers,
// and tests, allow private upstreams explicitly.
package outbound
