package httpapi

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/labstack/echo/v4"
	"golang.org/x/time/rate"

	"github.com/latchkey/latchkey/pkg/latchkey"
	"github.com/latchkey/latchkey/pkg/store"
)

// Sign-in throttling: each admin account and each client address has a
// token bucket (golang.org/x/time/rate). A wrong password takes a token;
// once a bucket's burst is spent, every further failure halves its refill
// rate, so the wait between guesses doubles up to a ceiling; a bucket left
// alone until it is full again starts over. A sign-in whose account or
// address has no token left is answered 429 with Retry-After, before the
// password is even checked. The buckets live in this process: each replica
// throttles on its own.
var (
	// SignInAccountThrottle governs the sign-ins of one admin account.
	SignInAccountThrottle = ThrottlePolicy{Burst: 5, Base: time.Second, Max: 15 * time.Minute}
	// SignInAddressThrottle governs the sign-ins from one client address,
	// which may be an office behind one NAT: a larger burst.
	SignInAddressThrottle = ThrottlePolicy{Burst: 20, Base: time.Second, Max: 15 * time.Minute}
)

// signInThrottleSize bounds the buckets kept for client addresses and for
// emails of no account: the least recently seen go first, so an attacker
// varying either grows memory by nothing. Real accounts keep their buckets
// beside these, as many as there are admins, so that no flood of made-up
// emails or addresses evicts the bucket of the account under attack.
const signInThrottleSize = 10000

// ThrottlePolicy is how a throttle slows down failures: Burst of them at
// once, then one per Base, the wait doubling with each further failure up
// to Max.
type ThrottlePolicy struct {
	Burst     int
	Base, Max time.Duration
}

// bucket is the failures of one account or one address.
type bucket struct {
	lim      *rate.Limiter
	failures int
}

// signInThrottle holds the buckets; its methods take the request's time
// (the server's clock, which tests inject).
type signInThrottle struct {
	mu       sync.Mutex
	accounts map[string]*bucket
	unknown  *lru.Cache[string, *bucket]
	addrs    *lru.Cache[string, *bucket]
}

func newSignInThrottle() *signInThrottle {
	unknown, _ := lru.New[string, *bucket](signInThrottleSize)
	addrs, _ := lru.New[string, *bucket](signInThrottleSize)
	return &signInThrottle{accounts: map[string]*bucket{}, unknown: unknown, addrs: addrs}
}

// signInKey is the bucket key of an email: the account's own email when it
// exists, else a hash of the email as typed (short, whatever its length).
func signInKey(email string, known bool) string {
	if known {
		return email
	}
	sum := sha256.Sum256([]byte(strings.ToLower(strings.TrimSpace(email))))
	return hex.EncodeToString(sum[:16])
}

// bucketOf returns, creating it, the bucket of addr (when not empty) or
// else of the account key.
func (t *signInThrottle) bucketOf(p ThrottlePolicy, addr, key string, known bool) *bucket {
	var b *bucket
	var ok bool
	switch {
	case addr != "":
		b, ok = t.addrs.Get(addr)
	case known:
		b, ok = t.accounts[key]
	default:
		b, ok = t.unknown.Get(key)
	}
	if ok {
		return b
	}
	b = &bucket{lim: rate.NewLimiter(rate.Every(p.Base), p.Burst)}
	switch {
	case addr != "":
		t.addrs.Add(addr, b)
	case known:
		t.accounts[key] = b
	default:
		t.unknown.Add(key, b)
	}
	return b
}

// wait returns how long a bucket must wait for its next token at now, 0
// when it has one; a bucket full again forgets its failures.
func (b *bucket) wait(p ThrottlePolicy, now time.Time) time.Duration {
	tokens := b.lim.TokensAt(now)
	if tokens >= float64(p.Burst) && b.failures > 0 {
		b.failures = 0
		b.lim.SetLimitAt(now, rate.Every(p.Base))
	}
	if tokens >= 1 {
		return 0
	}
	return time.Duration(math.Ceil((1 - tokens) / float64(b.lim.Limit()) * float64(time.Second)))
}

// fail counts a failure at now: past the burst, each one halves the refill
// rate, to one token per Max at the slowest.
func (b *bucket) fail(p ThrottlePolicy, now time.Time) {
	b.failures++
	if b.failures >= p.Burst {
		interval := p.Max
		if shift := b.failures - p.Burst; shift < 30 && p.Base<<shift < p.Max {
			interval = p.Base << shift
		}
		b.lim.SetLimitAt(now, rate.Every(interval))
	}
}

// signInTry is a sign-in let through the throttle: it holds a token of its
// address and one of its account until it is known to have failed or not.
type signInTry struct {
	t          *signInThrottle
	now        time.Time
	addr, acct *bucket
	addrToken  *rate.Reservation
	email      string
}

// take lets a sign-in from addr as email through, taking a token from
// the address's bucket and the account's, or returns how long the caller
// must wait (and takes nothing). known says whether the account exists.
func (t *signInThrottle) take(now time.Time, addr, email string, known bool) (*signInTry, time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	key := signInKey(email, known)
	if addr == "" {
		addr = "unknown"
	}
	a := t.bucketOf(SignInAddressThrottle, addr, "", false)
	b := t.bucketOf(SignInAccountThrottle, "", key, known)
	if wait := max(a.wait(SignInAddressThrottle, now), b.wait(SignInAccountThrottle, now)); wait > 0 {
		return nil, wait
	}
	try := &signInTry{t: t, now: now, addr: a, acct: b, addrToken: a.lim.ReserveN(now, 1), email: key}
	b.lim.ReserveN(now, 1)
	return try, 0
}

// failed counts the failure against the address and the account.
func (try *signInTry) failed() {
	try.t.mu.Lock()
	defer try.t.mu.Unlock()
	try.addr.fail(SignInAddressThrottle, try.now)
	try.acct.fail(SignInAccountThrottle, try.now)
}

// succeeded gives the address its token back and forgets the account's
// failures.
func (try *signInTry) succeeded() {
	try.t.mu.Lock()
	defer try.t.mu.Unlock()
	try.addrToken.CancelAt(try.now)
	delete(try.t.accounts, try.email)
}

// tooManySignIns answers 429 with Retry-After (RFC 9110 §10.2.3) in whole
// seconds.
func tooManySignIns(c echo.Context, wait time.Duration) error {
	secs := int64(math.Ceil(wait.Seconds()))
	if secs < 1 {
		secs = 1
	}
	c.Response().Header().Set("Retry-After", strconv.FormatInt(secs, 10))
	return latchkey.Errorf(latchkey.ETHROTTLED, "too many failed sign-ins; try again in %s", time.Duration(secs)*time.Second)
}

func init() { statusOf[latchkey.ETHROTTLED] = http.StatusTooManyRequests }

// clientAddressExtractor chooses how the server learns a request's client address
// (for sign-in throttling and the audit log): the TCP peer, unless the peer
// is one of TrustedProxies, whose X-Forwarded-For is believed then (its
// right-most address that is not itself a trusted proxy).
func clientAddressExtractor(trusted []*net.IPNet) echo.IPExtractor {
	if len(trusted) == 0 {
		return echo.ExtractIPDirect()
	}
	opts := []echo.TrustOption{echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false)}
	for _, n := range trusted {
		opts = append(opts, echo.TrustIPRange(n))
	}
	return echo.ExtractIPFromXFFHeader(opts...)
}

// ParseTrustedProxies parses a comma-separated list of addresses and CIDR
// ranges (LATCHKEY_TRUSTED_PROXIES).
func ParseTrustedProxies(list string) ([]*net.IPNet, error) {
	var out []*net.IPNet
	for _, part := range strings.Split(list, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		if !strings.Contains(part, "/") {
			ip := net.ParseIP(part)
			if ip == nil {
				return nil, fmt.Errorf("trusted proxy %q is not an IP address or a CIDR range", part)
			}
			bits := 128
			if ip.To4() != nil {
				ip, bits = ip.To4(), 32
			}
			out = append(out, &net.IPNet{IP: ip, Mask: net.CIDRMask(bits, bits)})
			continue
		}
		_, n, err := net.ParseCIDR(part)
		if err != nil {
			return nil, fmt.Errorf("trusted proxy %q is not an IP address or a CIDR range", part)
		}
		out = append(out, n)
	}
	return out, nil
}

// AuditSignInFailed is the audit action of a sign-in refused for a wrong
// email or password (throttled ones, answered 429, are not recorded).
const AuditSignInFailed = "session.fail"

// accountOf is the account a sign-in is for: the admin's own email when
// the account exists, else the email as typed.
func accountOf(typed string, admin store.Admin, known bool) string {
	if known {
		return admin.Email
	}
	return typed
}

// auditFailedSignIn records a failed sign-in with its client address and
// the email tried (cut to 100 characters), batched: an attacker makes many.
func (s *Server) auditFailedSignIn(c echo.Context, email string, known bool) {
	if len(email) > 100 {
		email = strings.ToValidUTF8(email[:100], "") + "…"
	}
	why := "no such account"
	if known {
		why = "wrong password"
	}
	s.audit.enqueue(c.Request().Context(), latchkey.AuditEvent{Actor: "sign-in", Action: AuditSignInFailed,
		Detail: fmt.Sprintf("email %q from %s: %s", email, c.RealIP(), why)})
}
