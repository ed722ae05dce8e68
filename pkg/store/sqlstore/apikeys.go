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
	row := apiKeyRow{ID: key.ID, Name: key.Name, Scope: key.Scope, App: key.App, Hash: key.Hash,
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

// GetAPIKey returns the API key with the given id, revoked or not.
func (s *Store) GetAPIKey(ctx context.Context, id string) (latchkey.APIKey, error) {
	var row apiKeyRow
	err := s.db.WithContext(ctx).Where("id = ?", id).Take(&row).Error
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
	var rows []apiKeyRow
	if err := s.db.WithContext(ctx).Order("created_at DESC, id").Find(&rows).Error; err != nil {
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
	err := s.tx(ctx, func(tx *gorm.DB) error {
		var n int64
		if err := tx.Model(&apiKeyRow{}).Where("id = ?", id).Count(&n).Error; err != nil {
			return err
		}
		if n == 0 {
			return notFound("API key %q not found", id)
		}
		return tx.Model(&apiKeyRow{}).Where("id = ? AND revoked_at IS NULL", id).Update("revoked_at", utc(at)).Error
	})
	return fail(err, "revoke API key %q", id)
}

func apiKeyFromRow(r apiKeyRow) latchkey.APIKey {
	k := latchkey.APIKey{ID: r.ID, Name: r.Name, Scope: r.Scope, App: r.App, Hash: r.Hash, CreatedAt: r.CreatedAt.UTC()}
	if r.RevokedAt != nil {
		t := r.RevokedAt.UTC()
		k.RevokedAt = &t
	}
	return k
}

func derefTime(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return *t
}
