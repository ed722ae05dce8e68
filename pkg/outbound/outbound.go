package outbound

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"
)

// MaxIdleConnsPerHost is how many idle connections a transport keeps open
// to one upstream host, so that concurrent calls and the refresh worker's
// batches reuse connections instead of dialling (and handshaking) anew.
const MaxIdleConnsPerHost = 64

// Options configure a transport.
type Options struct {
	// AllowPrivate turns the address check off: loopback, private and
	// link-local upstreams are dialled (self-hosted providers, tests).
	AllowPrivate bool
	// Resolve, when set, replaces DNS for host names (tests point a name at
	// 127.0.0.1 to play a rebinding host). The check applies to what it
	// returns, as to any resolution.
	Resolve func(ctx context.Context, host string) ([]netip.Addr, error)
	// DialTimeout bounds a connection's dial; 10 s when zero.
	DialTimeout time.Duration
}

// ErrForbiddenAddress is the error of a dial to an address the policy
// refuses; errors.Is finds it through the transport's and client's wraps.
var ErrForbiddenAddress = errors.New("outbound: the upstream address is not allowed")

// AddressError says which address was refused and why.
type AddressError struct {
	Addr   netip.Addr
	Reason string
}

// Error names the address and why it is refused.
func (e *AddressError) Error() string {
	return fmt.Sprintf("outbound: refusing to connect to %s (%s); allow private upstreams to reach it", e.Addr, e.Reason)
}

// Is makes errors.Is(err, ErrForbiddenAddress) true.
func (e *AddressError) Is(target error) bool { return target == ErrForbiddenAddress }

// cgnat is the shared address space of RFC 6598, used inside carriers and
// some clouds.
var cgnat = netip.MustParsePrefix("100.64.0.0/10")

// Check returns an *AddressError when addr is not a public unicast address:
// loopback, private (RFC 1918, RFC 4193), link-local (169.254.0.0/16 holds the
// cloud metadata address), CGNAT (RFC 6598), multicast or unspecified. An
// IPv4-mapped IPv6 address is checked as the IPv4 address it maps.
func Check(addr netip.Addr) error {
	addr = addr.Unmap()
	reason := ""
	switch {
	case !addr.IsValid():
		reason = "not an address"
	case addr.IsLoopback():
		reason = "loopback"
	case addr.IsPrivate():
		reason = "private"
	case addr.IsLinkLocalUnicast(), addr.IsLinkLocalMulticast():
		reason = "link-local, such as a cloud metadata address"
	case addr.IsUnspecified():
		reason = "unspecified"
	case addr.IsMulticast(), addr.IsInterfaceLocalMulticast():
		reason = "multicast"
	case addr.Is4() && cgnat.Contains(addr):
		reason = "shared address space"
	case addr.Is4() && addr.As4()[0] == 0, addr.Is4() && addr == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		reason = "reserved"
	}
	if reason != "" {
		return &AddressError{Addr: addr, Reason: reason}
	}
	return nil
}

// control is the dialer's Control function: it runs after resolution, on
// the address the socket is about to connect to.
func control(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return &AddressError{Reason: "unparsable address " + address}
	}
	return Check(ap.Addr())
}

// NewTransport returns a transport with net/http's default settings (proxy
// from the environment, HTTP/2, dial and TLS timeouts), MaxIdleConnsPerHost
// idle connections per host, and the dialer of opts.
func NewTransport(opts Options) *http.Transport {
	var t *http.Transport
	if d, ok := http.DefaultTransport.(*http.Transport); ok {
		t = d.Clone()
	} else {
		t = &http.Transport{Proxy: http.ProxyFromEnvironment, ForceAttemptHTTP2: true, IdleConnTimeout: 90 * time.Second,
			TLSHandshakeTimeout: 10 * time.Second, ExpectContinueTimeout: time.Second}
	}
	t.MaxIdleConnsPerHost = MaxIdleConnsPerHost
	if t.MaxIdleConns < 4*MaxIdleConnsPerHost {
		t.MaxIdleConns = 4 * MaxIdleConnsPerHost
	}
	timeout := opts.DialTimeout
	if timeout == 0 {
		timeout = 10 * time.Second
	}
	dialer := &net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}
	if !opts.AllowPrivate {
		dialer.Control = control
	}
	if opts.Resolve == nil {
		t.DialContext = dialer.DialContext
		return t
	}
	t.DialContext = func(ctx context.Context, network, address string) (net.Conn, error) {
		host, port, err := net.SplitHostPort(address)
		if err != nil {
			return nil, err
		}
		if _, perr := netip.ParseAddr(host); perr == nil {
			return dialer.DialContext(ctx, network, address)
		}
		addrs, err := opts.Resolve(ctx, host)
		if err != nil {
			return nil, &net.DNSError{Err: err.Error(), Name: host}
		}
		var errs []error
		for _, a := range addrs {
			c, err := dialer.DialContext(ctx, network, net.JoinHostPort(a.String(), port))
			if err == nil {
				return c, nil
			}
			errs = append(errs, err)
		}
		if len(errs) == 0 {
			return nil, &net.DNSError{Err: "no addresses", Name: host, IsNotFound: true}
		}
		return nil, errors.Join(errs...)
	}
	return t
}

// NewClient returns a client on NewTransport(opts) with timeout that follows
// no redirects: a provider's redirect is an answer, passed back, so that
// credentials sent to one address never travel on to another.
func NewClient(timeout time.Duration, opts Options) *http.Client {
	return &http.Client{Timeout: timeout, Transport: NewTransport(opts),
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}
