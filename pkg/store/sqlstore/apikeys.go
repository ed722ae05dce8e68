package sqlstore

import (
	"context"
	"errors"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/latchkey/latchkey/pkg/latchkey"
)

// CreateAPIKey stores an API key (its hash, never the key). An id in use is
// refused with ErrConflict.
func (s *Store) CreateAPIKey(ctx context.Context, key latchkey.APIKey) error {
	created := key.CreatedAt
	if created.IsZero() {
		created = time.Now()
	}
	env := key.Env
	if env == "" {
		var err error
		if env, err = s.envOf(ctx); err != nil {
			return err
		}
	} else if cur, err := s.lookupEnv(ctx); err != nil || (cur != "" && cur != env) {
		return latchkey.Errorf(latchkey.EINVALID, "API key %q: its environment is not the call's", key.ID)
	}
	row := apiKeyRow{Env: string(env), ID: key.ID, Name: key.Name, Scope: key.Scope, App: key.App, Hash: key.Hash,
		CreatedAt: utc(created), RevokedAt: utcPtr(derefTime(key.RevokedAt))}
	if row.Hash == nil {
		row.Hash = []byte{}
	}
	err := s.tx(ctx, func(tx *gorm.DB) error {
		res := tx.Clauses(clause.OnConflict{DoNothing: true}).Create(&row)
		if res.Error == nil && res.RowsAffected == 0 {
			return latchkey.Errorf(latchkey.ECONFLICT, "API key %q exists already", key.ID)
		}
		return res.Error
	})
	return fail(err, "create API key %q", key.ID)
}

// GetAPIKey returns the API key with the given id, revoked or not: of the
// call's environment, or of any when it says none (authentication, which
// learns the environment from the key).
func (s *Store) GetAPIKey(ctx context.Context, id string) (latchkey.APIKey, error) {
	env, err := s.lookupEnv(ctx)
	if err != nil {
		return latchkey.APIKey{}, err
	}
	var row apiKeyRow
	err = inEnv(s.db.WithContext(ctx), env).Where("id = ?", id).Take(&row).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return latchkey.APIKey{}, notFound("API key %q not found", id)
	}
	if err != nil {
		return latchkey.APIKey{}, fail(err, "read API key %q", id)
	}
	return apiKeyFromRow(row), nil
}

// ListAPIKeys returns every API key, newest first.
func (s *Store) ListAPIKeys(ctx context.Context) ([]latchkey.APIKey, error) {
	env, err := s.envOf(ctx)
	if err != nil {
		return nil, err
	}
	var rows []apiKeyRow
	if err := s.db.WithContext(ctx).Where("env = ?", env).Order("created_at DESC, id").Find(&rows).Error; err != nil {
		return nil, fail(err, "list API keys")
	}
	out := make([]latchkey.APIKey, len(rows))
	for i, r := range rows {
		out[i] = apiKeyFromRow(r)
	}
	return out, nil
}

// RevokeAPIKey marks an API key revoked at the given time. Revoking a key
// revoked already keeps its first revocation time.
func (s *Store) RevokeAPIKey(ctx context.Context, id string, at time.Time) error {
	env, err := s.envOf(ctx)
	if err != nil {
		return err
	}
	err = s.tx(ctx, func(tx *gorm.DB) error {
		var n int64
		if err := tx.Model(&apiKeyRow{}).Where("env = ? AND id = ?", env, id).Count(&n).Error; err != nil {
			return err
		}
		if n == 0 {
			return notFound("API key %q not found", id)
		}
		return tx.Model(&apiKeyRow{}).Where("env = ? AND id = ? AND revoked_at IS NULL", env, id).Update("revoked_at", utc(at)).Error
	})
	return fail(err, "revoke API key %q", id)
}

// TouchAPIKey records a use of an API key at the given time, unless the
// one stored is less than latchkey.APIKeyUseResolution older: of the call's
// environment, or of any when it says none (authentication, as GetAPIKey).
// The condition is in the UPDATE, so concurrent touches of replicas write
// once.
func (s *Store) TouchAPIKey(ctx context.Context, id string, at time.Time) error {
	env, err := s.lookupEnv(ctx)
	if err != nil {
		return err
	}
	at = utc(at)
	err = s.tx(ctx, func(tx *gorm.DB) error {
		return inEnv(tx.Model(&apiKeyRow{}), env).
			Where("id = ? AND (last_used_at IS NULL OR last_used_at <= ?)", id, at.Add(-latchkey.APIKeyUseResolution)).
			Update("last_used_at", at).Error
	})
	return fail(err, "record the use of API key %q", id)
}

func apiKeyFromRow(r apiKeyRow) latchkey.APIKey {
	k := latchkey.APIKey{Env: latchkey.Environment(r.Env), ID: r.ID, Name: r.Name, Scope: r.Scope, App: r.App, Hash: r.Hash, CreatedAt: r.CreatedAt.UTC()}
	if r.RevokedAt != nil {
		t := r.RevokedAt.UTC()
		k.RevokedAt = &t
	}
	if r.LastUsedAt != nil {
		t := r.LastUsedAt.UTC()
		k.LastUsedAt = &t
	}
	return k
}

func derefTime(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return *t
}
