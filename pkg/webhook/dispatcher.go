package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/latchkey/latchkey/pkg/latchkey"
	"github.com/latchkey/latchkey/pkg/store"
)

// Defaults of Config.
const (
	DefaultPollInterval = time.Second
	DefaultBackoff      = 5 * time.Second
	DefaultMaxBackoff   = 10 * time.Minute
	DefaultMaxAttempts  = 5
	DefaultTimeout      = 10 * time.Second
	DefaultLease        = time.Minute
	// DefaultRetention is how long finished deliveries stay in the log.
	DefaultRetention   = 30 * 24 * time.Hour
	DefaultBatch       = 20
	DefaultConcurrency = 4
)

// Delivery outcomes, as Config.Observe hears them.
const (
	OutcomeDelivered = "delivered" // the endpoint answered 2xx
	OutcomeRetry     = "retry"     // the attempt failed; another follows
	OutcomeFailed    = "failed"    // the last attempt failed
)

// Config configures a Dispatcher. Store is required.
type Config struct {
	Store store.Store
	// HTTPClient sends deliveries; by default one with DefaultTimeout that
	// follows no redirects.
	HTTPClient *http.Client
	Now        func() time.Time
	Logger     *slog.Logger
	// PollInterval is how often the loop looks for due deliveries when no
	// event woke it (deliveries of other replicas, retries).
	PollInterval time.Duration
	// Backoff is the wait after a first failed attempt; it doubles with
	// each failure up to MaxBackoff, with ±20% jitter. After MaxAttempts
	// attempts a delivery is failed.
	Backoff     time.Duration
	MaxBackoff  time.Duration
	MaxAttempts int
	// Lease is how long a claimed delivery is kept from other dispatchers.
	Lease time.Duration
	// Observe, when set, hears each attempt's outcome (for metrics).
	Observe func(outcome string)
	// Retention is how long a delivered or failed delivery stays in the
	// log before the loop prunes it (hourly); negative keeps them all.
	Retention time.Duration
}

// pruneEvery is how often the loop prunes the delivery log.
const pruneEvery = time.Hour

// Dispatcher turns events into deliveries and sends them.
type Dispatcher struct {
	cfg    Config
	wake   chan struct{}
	stop   chan struct{}
	done   chan struct{}
	start  sync.Once
	closed sync.Once

	hooksMu sync.Mutex
	hooks   map[string]cachedHooks // by app
}

// New returns a Dispatcher with cfg's zero fields defaulted. Call Start to
// send deliveries, and Close to stop.
func New(cfg Config) *Dispatcher {
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: DefaultTimeout,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.PollInterval == 0 {
		cfg.PollInterval = DefaultPollInterval
	}
	if cfg.Backoff == 0 {
		cfg.Backoff = DefaultBackoff
	}
	if cfg.MaxBackoff == 0 {
		cfg.MaxBackoff = DefaultMaxBackoff
	}
	if cfg.MaxAttempts == 0 {
		cfg.MaxAttempts = DefaultMaxAttempts
	}
	if cfg.Lease == 0 {
		cfg.Lease = DefaultLease
	}
	if cfg.Retention == 0 {
		cfg.Retention = DefaultRetention
	}
	return &Dispatcher{cfg: cfg, wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{}),
		hooks: map[string]cachedHooks{}}
}

// CheckURL reports why raw cannot be a webhook's URL: it must be an
// absolute https URL, or http to a loopback host (for tests and local
// development), with no user information.
func CheckURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return latchkey.Errorf(latchkey.EINVALID, "the webhook URL must be an absolute https URL")
	}
	if u.User != nil {
		return latchkey.Errorf(latchkey.EINVALID, "the webhook URL must not carry a user name or password")
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		host := u.Hostname()
		if ip := net.ParseIP(host); host == "localhost" || (ip != nil && ip.IsLoopback()) {
			return nil
		}
	}
	return latchkey.Errorf(latchkey.EINVALID, "the webhook URL must use https (http only for a loopback host)")
}

// hookCacheTTL bounds how long the webhooks of an app, once read, serve new
// events without being read again: a webhook created or deleted through
// another replica counts within that time; Forget makes a change through
// this one count at once. Every refresh is an event, and most apps have no
// webhook: without it, each refresh would read the webhooks table.
const hookCacheTTL = 5 * time.Second

// cachedHooks are an app's webhooks as read at at, or, when not valid,
// the time at which they were forgotten.
type cachedHooks struct {
	hooks []store.Webhook
	at    time.Time
	valid bool
}

// webhooks returns the webhooks of app, from the cache when it is young.
func (d *Dispatcher) webhooks(ctx context.Context, app string) ([]store.Webhook, error) {
	d.hooksMu.Lock()
	c, ok := d.hooks[app]
	d.hooksMu.Unlock()
	if ok && c.valid && time.Since(c.at) < hookCacheTTL {
		return c.hooks, nil
	}
	at := time.Now()
	hooks, err := d.cfg.Store.ListWebhooks(ctx, app)
	if err != nil {
		return nil, err
	}
	d.hooksMu.Lock()
	// Not over a newer read, nor over a Forget that came after this read
	// began (what it read may predate the change).
	if cur, ok := d.hooks[app]; !ok || !cur.at.After(at) {
		d.hooks[app] = cachedHooks{hooks: hooks, at: at, valid: true}
	}
	d.hooksMu.Unlock()
	return hooks, nil
}

// Forget drops what the dispatcher knows of app's webhooks, after one of
// them was created or deleted, so that the next event reads them again.
func (d *Dispatcher) Forget(app string) {
	d.hooksMu.Lock()
	d.hooks[app] = cachedHooks{at: time.Now()}
	d.hooksMu.Unlock()
}

// Emit stores each event as one pending delivery per webhook of its app
// that wants its type, all in one transaction, and wakes the loop. It has
// the signature of flow.Config.Events (the refresh worker hands it a
// batch's events at once); a store error is logged, since the changes the
// events report are done.
func (d *Dispatcher) Emit(ctx context.Context, evs ...latchkey.Event) {
	if err := d.Enqueue(context.WithoutCancel(ctx), evs...); err != nil {
		for _, ev := range evs {
			d.cfg.Logger.ErrorContext(ctx, "webhook event not stored", "event", ev.ID, "type", ev.Type, "app", ev.App, "error", err)
		}
	}
}

// Enqueue is Emit that returns the store's error.
func (d *Dispatcher) Enqueue(ctx context.Context, evs ...latchkey.Event) error {
	var ds []store.WebhookDelivery
	now := d.cfg.Now()
	for _, ev := range evs {
		hooks, err := d.webhooks(ctx, ev.App)
		if err != nil {
			return err
		}
		var body []byte
		for _, h := range hooks {
			if !h.Wants(string(ev.Type)) {
				continue
			}
			if body == nil {
				if body, err = json.Marshal(ev); err != nil {
					return err
				}
			}
			ds = append(ds, store.WebhookDelivery{WebhookID: h.ID, App: ev.App, EventID: ev.ID, EventType: string(ev.Type),
				Payload: body, CreatedAt: now, NextAttemptAt: now})
		}
	}
	if len(ds) == 0 {
		return nil
	}
	if err := d.cfg.Store.CreateDeliveries(ctx, ds...); err != nil {
		return err
	}
	select {
	case d.wake <- struct{}{}:
	default:
	}
	return nil
}

// Start starts the delivery loop.
func (d *Dispatcher) Start() {
	d.start.Do(func() { go d.loop() })
}

// Close stops the loop after the attempts under way end. Deliveries not yet
// sent stay pending in the store for the next start or another replica.
func (d *Dispatcher) Close() {
	d.closed.Do(func() {
		close(d.stop)
		d.start.Do(func() { close(d.done) }) // never started
		<-d.done
	})
}

func (d *Dispatcher) loop() {
	defer close(d.done)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	t := time.NewTicker(d.cfg.PollInterval)
	defer t.Stop()
	var pruned time.Time
	for {
		if time.Since(pruned) >= pruneEvery {
			if _, err := d.Prune(ctx); err != nil {
				d.cfg.Logger.ErrorContext(ctx, "pruning webhook deliveries", "error", err)
			}
			pruned = time.Now()
		}
		n := d.RunOnce(ctx)
		if n == DefaultBatch {
			select {
			case <-d.stop:
				return
			default:
				continue
			}
		}
		select {
		case <-d.stop:
			return
		case <-d.wake:
		case <-t.C:
		}
	}
}

// Prune deletes the delivered and failed deliveries older than the
// retention, with their attempts, and returns how many.
func (d *Dispatcher) Prune(ctx context.Context) (int64, error) {
	if d.cfg.Retention < 0 {
		return 0, nil
	}
	return d.cfg.Store.PruneDeliveries(ctx, d.cfg.Now().Add(-d.cfg.Retention))
}

// RunOnce claims the due deliveries (at most DefaultBatch), sends them,
// DefaultConcurrency at a time, and returns how many it claimed.
func (d *Dispatcher) RunOnce(ctx context.Context) int {
	envs, err := store.Environments(ctx, d.cfg.Store)
	if err != nil {
		d.cfg.Logger.ErrorContext(ctx, "listing environments", "error", err)
		return 0
	}
	// Every environment in turn, each at most its share of the batch.
	share := max(1, (DefaultBatch+len(envs)-1)/len(envs))
	total := 0
	for _, env := range envs {
		ectx := latchkey.WithEnvironment(ctx, env)
		due, err := d.cfg.Store.ClaimDeliveries(ectx, d.cfg.Now(), share, d.cfg.Lease)
		if err != nil {
			d.cfg.Logger.ErrorContext(ectx, "claiming webhook deliveries", "environment", string(env), "error", err)
			continue
		}
		sem := make(chan struct{}, DefaultConcurrency)
		var wg sync.WaitGroup
		for _, dl := range due {
			sem <- struct{}{}
			wg.Add(1)
			go func() {
				defer func() { <-sem; wg.Done() }()
				d.deliver(ectx, dl)
			}()
		}
		wg.Wait()
		total += len(due)
	}
	return total
}

// deliver makes one attempt at dl and records it.
func (d *Dispatcher) deliver(ctx context.Context, dl store.WebhookDelivery) {
	hook, err := d.cfg.Store.GetWebhook(ctx, dl.App, dl.WebhookID)
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			d.cfg.Logger.ErrorContext(ctx, "reading a webhook", "webhook", dl.WebhookID, "error", err)
		}
		return // deleted meanwhile: its deliveries went with it
	}
	start := d.cfg.Now()
	code, sendErr := d.send(ctx, hook, dl)
	att := store.WebhookAttempt{At: start, StatusCode: code, DurationMS: d.cfg.Now().Sub(start).Milliseconds()}
	state, next, outcome := store.DeliveryDelivered, time.Time{}, OutcomeDelivered
	if sendErr != nil {
		att.Error = sendErr.Error()
		if dl.AttemptCount+1 >= d.cfg.MaxAttempts {
			state, outcome = store.DeliveryFailed, OutcomeFailed
		} else {
			state, outcome = store.DeliveryPending, OutcomeRetry
			next = d.cfg.Now().Add(d.backoff(dl.AttemptCount + 1))
		}
		d.cfg.Logger.WarnContext(ctx, "webhook delivery failed", "webhook", hook.ID, "app", hook.App, "event", dl.EventID,
			"attempt", dl.AttemptCount+1, "status", code, "error", att.Error, "outcome", outcome)
	}
	if err := d.cfg.Store.RecordAttempt(ctx, dl.ID, att, state, next); err != nil && !errors.Is(err, store.ErrNotFound) {
		d.cfg.Logger.ErrorContext(ctx, "recording a webhook attempt", "delivery", dl.ID, "error", err)
	}
	if d.cfg.Observe != nil {
		d.cfg.Observe(outcome)
	}
}

// send posts dl's payload, signed, to hook. Its error names no URL (a
// webhook's path may hold a token of the receiver's) and no secret.
func (d *Dispatcher) send(ctx context.Context, hook store.Webhook, dl store.WebhookDelivery) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, hook.URL, bytes.NewReader(dl.Payload))
	if err != nil {
		return 0, errors.New("the webhook URL is not valid")
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Latchkey-Webhooks/1")
	req.Header.Set(EventHeader, dl.EventType)
	req.Header.Set(DeliveryHeader, dl.EventID)
	req.Header.Set(SignatureHeader, Sign(hook.Secret, d.cfg.Now(), dl.Payload))
	resp, err := d.cfg.HTTPClient.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			if ue.Timeout() {
				return 0, errors.New("timed out")
			}
			err = ue.Err
		}
		return 0, errors.New(strings.TrimSpace(err.Error()))
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.StatusCode, fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	return resp.StatusCode, nil
}

// backoff is the wait after attempts failed attempts: Backoff doubled per
// failure up to MaxBackoff, with ±20% jitter.
func (d *Dispatcher) backoff(attempts int) time.Duration {
	b := d.cfg.Backoff
	for i := 1; i < attempts && b < d.cfg.MaxBackoff; i++ {
		b *= 2
	}
	b = min(b, d.cfg.MaxBackoff)
	return time.Duration(float64(b) * (0.8 + 0.4*rand.Float64()))
}
