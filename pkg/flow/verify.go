package flow

import (
	"context"
	"errors"
	"net/http"
	"sort"

	"github.com/latchkey/latchkey/pkg/extract"
	"github.com/latchkey/latchkey/pkg/latchkey"
	"github.com/latchkey/latchkey/pkg/store"
	"github.com/latchkey/latchkey/pkg/trace"
)

// Verification is the outcome of a config's verify_api call: whether the
// provider accepted the connection's token, and which settings its answer
// filled (metadata rules with from: verify).
type Verification struct {
	API    string `json:"api"`
	OK     bool   `json:"ok"`
	Status int    `json:"status,omitempty"` // the provider's status; 0 when none came
	Error  string `json:"error,omitempty"`
	// Stored names the settings filled from the answer, never their values.
	Stored []string `json:"stored,omitempty"`
}

// Verify calls the config's verify_api with a connection's token (refreshed
// first when due) and stores the values its answer gives under the
// config's metadata rules with from: verify. A config without verify_api is
// ENOTFOUND.
func (e *Engine) Verify(ctx context.Context, key latchkey.ConnectionKey) (Verification, error) {
	c, err := e.App(ctx, key.App)
	if err != nil {
		return Verification{}, err
	}
	cc, err := c.config(key.Config)
	if err != nil {
		return Verification{}, err
	}
	if cc.cfg.VerifyAPI == "" {
		return Verification{}, latchkey.Errorf(latchkey.ENOTFOUND, "OAuth config %q declares no verify_api", key.Config)
	}
	conn, err := e.Token(ctx, key)
	if err != nil {
		return Verification{}, err
	}
	tctx, rec := trace.Start(ctx, e.cfg.Traces, latchkey.TraceVerify, conn.ConnectionKey, cc.cfg.VerifyAPI)
	v, values := e.verifyWith(tctx, c, cc, conn)
	if v.OK {
		rec.Finish(nil)
	} else {
		rec.Finish(latchkey.Errorf(latchkey.EPROVIDER, "%s", v.Error))
	}
	if len(values) == 0 {
		return v, nil
	}
	_, err = e.cfg.Store.UpdateConnection(ctx, conn.ConnectionKey, func(cur latchkey.Connection) (latchkey.Connection, error) {
		changed := false
		for k, val := range values {
			if cur.Values[k] != val {
				cur.Values[k], changed = val, true
			}
		}
		if !changed {
			return cur, errFresh
		}
		return cur, nil
	})
	if err != nil && !errors.Is(err, errFresh) && !errors.Is(err, store.ErrNotFound) {
		return v, err
	}
	return v, nil
}

// verifyWith calls the config's verify_api with conn's token, not yet
// stored, and returns the outcome with the values to store. It never fails
// the flow: a refusal is reported in the Verification.
func (e *Engine) verifyWith(ctx context.Context, c *Compiled, cc *compiledConfig, conn latchkey.Connection) (Verification, map[string]string) {
	v := Verification{API: cc.cfg.VerifyAPI}
	ca, err := c.api(cc.cfg.VerifyAPI)
	if err != nil {
		v.Error = latchkey.ErrorMessage(err)
		return v, nil
	}
	installed, err := e.installedValues(ctx, conn.App, conn.Org)
	if err != nil {
		v.Error = latchkey.ErrorMessage(err)
		return v, nil
	}
	u := &Upstream{e: e, c: c, cc: cc, api: ca, key: conn.ConnectionKey, installed: installed}
	u.setConn(conn)
	req, err := http.NewRequestWithContext(ctx, ca.method, "http://verify.invalid/", http.NoBody)
	if err == nil {
		err = u.Authorize(req)
	}
	if err != nil {
		v.Error = latchkey.ErrorMessage(err)
		return v, nil
	}
	rec := trace.From(ctx)
	cc.maskIn(rec, conn.Values)
	rec.Next("verification")
	resp, err := e.cfg.HTTPClient.Do(req)
	if err != nil {
		v.Error = latchkey.ErrorMessage(transportError(req, err))
		return v, nil
	}
	defer resp.Body.Close()
	v.Status = resp.StatusCode
	body, err := extract.ReadBody(resp.Body)
	if err != nil {
		v.Error = "the provider's answer could not be read"
		return v, nil
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		v.Error = "the provider answered HTTP " + http.StatusText(resp.StatusCode)
		return v, nil
	}
	v.OK = true
	if len(cc.verifyMeta) == 0 {
		return v, nil
	}
	doc, err := extract.ParseResponse(resp.Header.Get("Content-Type"), body)
	if err != nil {
		v.Error = "the answer is not JSON, so no value was stored from it"
		return v, nil
	}
	values := map[string]string{}
	for name, p := range cc.verifyMeta {
		if val, ok := p.Lookup(ctx, doc); ok {
			if err := extract.Storable("metadata "+name+" of the check", p, val); err != nil {
				v.Error = latchkey.ErrorMessage(err) // the tokens are kept; this value is not
				continue
			}
			values[name] = val
			v.Stored = append(v.Stored, name)
		}
	}
	sort.Strings(v.Stored)
	return v, values
}
