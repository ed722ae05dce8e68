package sqlstore

import (
	"context"
	"errors"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/latchkey/latchkey/pkg/latchkey"
)

// CreateLink stores a pending link under the SHA-256 of token. A second link
// under the same token is refused with ErrConflict.
func (s *Store) CreateLink(ctx context.Context, token string, link latchkey.Link) error {
	env, err := s.envOf(ctx)
	if err != nil {
		return err
	}
	row := linkRow{Env: string(env), TokenHash: hashHex(token), App: link.App, Org: link.Org, UserID: link.User, Config: link.Config,
		ReturnTo: link.ReturnTo, Popup: link.Popup, ExpiresAt: utc(link.ExpiresAt)}
	err = s.tx(ctx, func(tx *gorm.DB) error {
		if err := appExists(tx, env, link.App); err != nil {
			return err
		}
		res := tx.Clauses(clause.OnConflict{DoNothing: true}).Create(&row)
		if res.Error == nil && res.RowsAffected == 0 {
			return latchkey.Errorf(latchkey.ECONFLICT, "the link exists already")
		}
		return res.Error
	})
	return fail(err, "create a link for app %q", link.App)
}

// GetLink returns the pending link of token without using it: ErrNotFound
// when there is none or it was used, ErrExpired when it expired before now.
func (s *Store) GetLink(ctx context.Context, token string, now time.Time) (latchkey.Link, error) {
	env, err := s.lookupEnv(ctx)
	if err != nil {
		return latchkey.Link{}, err
	}
	var row linkRow
	err = inEnv(s.db.WithContext(ctx), env).Where("token_hash = ?", hashHex(token)).Take(&row).Error
	if err := checkLink(row, err, now); err != nil {
		return latchkey.Link{}, fail(err, "read a link")
	}
	return linkFromRow(row), nil
}

// TakeLink returns the pending link of token and marks it used, atomically,
// so that of any number of concurrent takers exactly one gets it and the
// others get ErrNotFound. An expired link is left as it is (ErrExpired).
func (s *Store) TakeLink(ctx context.Context, token string, now time.Time) (latchkey.Link, error) {
	env, err := s.lookupEnv(ctx)
	if err != nil {
		return latchkey.Link{}, err
	}
	h := hashHex(token)
	var row linkRow
	err = s.tx(ctx, func(tx *gorm.DB) error {
		err := s.forUpdate(inEnv(tx, env)).Where("token_hash = ?", h).Take(&row).Error
		if err := checkLink(row, err, now); err != nil {
			return err
		}
		res := tx.Model(&linkRow{}).Where("token_hash = ? AND used_at IS NULL", h).Update("used_at", utc(now))
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected != 1 {
			return notFound("link not found or already used")
		}
		return nil
	})
	if err != nil {
		return latchkey.Link{}, fail(err, "take a link")
	}
	return linkFromRow(row), nil
}

func checkLink(row linkRow, err error, now time.Time) error {
	switch {
	case errors.Is(err, gorm.ErrRecordNotFound):
		return notFound("link not found or already used")
	case err != nil:
		return err
	case row.UsedAt != nil:
		return notFound("link not found or already used")
	case row.ExpiresAt.Before(now):
		return latchkey.Errorf(latchkey.EEXPIRED, "the link has expired")
	}
	return nil
}

func linkFromRow(r linkRow) latchkey.Link {
	return latchkey.Link{Env: latchkey.Environment(r.Env), ConnectionKey: latchkey.ConnectionKey{App: r.App, Org: r.Org, User: r.UserID, Config: r.Config},
		ReturnTo: r.ReturnTo, Popup: r.Popup, ExpiresAt: r.ExpiresAt.UTC()}
}

// CreateState stores an authorization state under the SHA-256 of state, its
// code verifier encrypted and bound to the state.
func (s *Store) CreateState(ctx context.Context, state string, st latchkey.AuthState) error {
	env, err := s.envOf(ctx)
	if err != nil {
		return err
	}
	h := hashHex(state)
	row := stateRow{Env: string(env), StateHash: h, App: st.App, Org: st.Org, UserID: st.User, Config: st.Config,
		ReturnTo: st.ReturnTo, Popup: st.Popup, RedirectURI: st.RedirectURI, ExpiresAt: utc(st.ExpiresAt), BrowserHash: st.BrowserHash}
	if st.CodeVerifier != "" {
		ct, err := s.seal(st.CodeVerifier, envAD(env, "state", h)...)
		if err != nil {
			return err
		}
		row.CodeVerifier = ct
	}
	err = s.tx(ctx, func(tx *gorm.DB) error {
		if err := appExists(tx, env, st.App); err != nil {
			return err
		}
		res := tx.Clauses(clause.OnConflict{DoNothing: true}).Create(&row)
		if res.Error == nil && res.RowsAffected == 0 {
			return latchkey.Errorf(latchkey.ECONFLICT, "the state exists already")
		}
		return res.Error
	})
	return fail(err, "create a state for app %q", st.App)
}

// TakeState returns the authorization state and deletes it, atomically, so
// that it is used once (RFC 6749 §10.12): ErrNotFound when there is none,
// ErrExpired when it expired before now (an expired state is left for
// DeleteExpired).
func (s *Store) TakeState(ctx context.Context, state string, now time.Time) (latchkey.AuthState, error) {
	env, err := s.lookupEnv(ctx)
	if err != nil {
		return latchkey.AuthState{}, err
	}
	h := hashHex(state)
	var row stateRow
	var verifier string
	err = s.tx(ctx, func(tx *gorm.DB) error {
		err := s.forUpdate(inEnv(tx, env)).Where("state_hash = ?", h).Take(&row).Error
		switch {
		case errors.Is(err, gorm.ErrRecordNotFound):
			return notFound("state not found or already used")
		case err != nil:
			return err
		case row.ExpiresAt.Before(now):
			return latchkey.Errorf(latchkey.EEXPIRED, "the state has expired")
		}
		// Open the verifier before the state is deleted: a state that
		// cannot be read is kept, as the contract keeps nothing of a
		// failed call.
		if row.CodeVerifier != "" {
			if verifier, err = s.open(row.CodeVerifier, "the code verifier of a state", envAD(latchkey.Environment(row.Env), "state", h)...); err != nil {
				return err
			}
		}
		res := tx.Where("state_hash = ?", h).Delete(&stateRow{})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected != 1 {
			return notFound("state not found or already used")
		}
		return nil
	})
	if err != nil {
		return latchkey.AuthState{}, fail(err, "take a state")
	}
	st := latchkey.AuthState{Env: latchkey.Environment(row.Env), ConnectionKey: latchkey.ConnectionKey{App: row.App, Org: row.Org, User: row.UserID, Config: row.Config},
		ReturnTo: row.ReturnTo, Popup: row.Popup, RedirectURI: row.RedirectURI, ExpiresAt: row.ExpiresAt.UTC(),
		CodeVerifier: verifier, BrowserHash: row.BrowserHash}
	return st, nil
}

// DeleteExpired deletes links and states that expired before now: those of
// the call's environment, or of every environment when it says none (the
// pruner's sweep).
func (s *Store) DeleteExpired(ctx context.Context, now time.Time) error {
	env, err := s.lookupEnv(ctx)
	if err != nil {
		return err
	}
	err = s.tx(ctx, func(tx *gorm.DB) error {
		if err := inEnv(tx, env).Where("expires_at < ?", utc(now)).Delete(&linkRow{}).Error; err != nil {
			return err
		}
		if err := inEnv(tx, env).Where("expires_at < ?", utc(now)).Delete(&stateRow{}).Error; err != nil {
			return err
		}
		return inEnv(tx, env).Where("expires_at < ?", utc(now)).Delete(&oauthTokenRow{}).Error
	})
	return fail(err, "delete expired links, states and OAuth token records")
}
