package sqlstore

import (
	"context"
	"fmt"
	"strings"

	"gorm.io/gorm"

	"github.com/latchkey/latchkey/pkg/latchkey"
	"github.com/latchkey/latchkey/pkg/store"
)

// SearchConnections returns a page of the environment's connections across
// apps: keyset paging on the primary key, so that a page costs the same at
// the start and at the end of 10,000 connections.
func (s *Store) SearchConnections(ctx context.Context, q store.ConnectionQuery) (store.ConnectionPage, error) {
	env, err := s.envOf(ctx)
	if err != nil {
		return store.ConnectionPage{}, err
	}
	limit := q.Limit
	if limit == 0 {
		limit = 50
	}
	if limit < 1 || limit > store.MaxConnectionPage {
		return store.ConnectionPage{}, &latchkey.Error{Code: latchkey.EINVALID, Message: "the page size is out of range",
			Fields: []latchkey.FieldError{{Field: "limit", Message: fmt.Sprintf("must be between 1 and %d", store.MaxConnectionPage)}}}
	}
	filter := func(db *gorm.DB) *gorm.DB {
		db = db.Where("env = ?", env)
		for col, v := range map[string]string{"app": q.App, "org": q.Org, "user_id": q.User, "config": q.Config, "status": string(q.Status)} {
			if v != "" {
				db = db.Where(col+" = ?", v)
			}
		}
		if q.Search != "" {
			like := "%" + strings.NewReplacer(`\`, `\\`, "%", `\%`, "_", `\_`).Replace(strings.ToLower(q.Search)) + "%"
			db = db.Where(`(LOWER(org) LIKE ? ESCAPE '\' OR LOWER(user_id) LIKE ? ESCAPE '\')`, like, like)
		}
		return db
	}
	var total int64
	if err := filter(s.db.WithContext(ctx).Model(&connectionRow{})).Count(&total).Error; err != nil {
		return store.ConnectionPage{}, fail(err, "counting connections")
	}
	page := filter(s.db.WithContext(ctx))
	if a := q.After; a != nil {
		page = page.Where("(app, org, user_id, config) > (?, ?, ?, ?)", a.App, a.Org, a.User, a.Config)
	}
	var rows []connectionRow
	if err := page.Order("app, org, user_id, config").Limit(limit + 1).Find(&rows).Error; err != nil {
		return store.ConnectionPage{}, fail(err, "listing connections")
	}
	out := store.ConnectionPage{Total: int(total), Connections: make([]latchkey.Connection, 0, min(len(rows), limit))}
	for i, r := range rows {
		if i == limit {
			k := out.Connections[limit-1].ConnectionKey
			out.Next = &k
			break
		}
		out.Connections = append(out.Connections, fromRow(r))
	}
	return out, nil
}
