package httpapi

import (
	"encoding/base64"
	"encoding/json"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/latchkey/latchkey/pkg/latchkey"
	"github.com/latchkey/latchkey/pkg/store"
)

// searchConnections lists the environment's connections across apps, for
// the builder UI's connections screen: ?app=, ?org=, ?user=, ?config=,
// ?status= filter, ?q= searches orgs and users, ?limit= sizes the page
// (50 by default, at most 500) and ?after= is the cursor of the page
// before (next). Admin only; a runtime key lists its app's with
// GET /api/v1/apps/{app}/connections.
func (s *Server) searchConnections(c echo.Context) error {
	if err := requireAdmin(c); err != nil {
		return err
	}
	q := store.ConnectionQuery{App: c.QueryParam("app"), Org: c.QueryParam("org"), User: c.QueryParam("user"),
		Config: c.QueryParam("config"), Status: latchkey.ConnectionStatus(c.QueryParam("status")), Search: c.QueryParam("q")}
	var fe latchkey.FieldErrors
	switch q.Status {
	case "", latchkey.StatusActive, latchkey.StatusExpired, latchkey.StatusNeedsReauth, latchkey.StatusRefreshFailed:
	default:
		fe.Add("status", "must be active, expired, needs_reauth or refresh_failed")
	}
	q.Limit = queryLimit(c, &fe, 0, store.MaxConnectionPage)
	if v := c.QueryParam("after"); v != "" {
		k, ok := decodeCursor(v)
		if !ok {
			fe.Add("after", "is not a cursor this server gave (next of the page before)")
		}
		q.After = &k
	}
	if err := fe.Err("the query is invalid"); err != nil {
		return err
	}
	page, err := s.store.SearchConnections(c.Request().Context(), q)
	if err != nil {
		return err
	}
	out := map[string]any{"connections": page.Connections, "total": page.Total}
	if page.Next != nil {
		out["next"] = encodeCursor(*page.Next)
	}
	return c.JSON(http.StatusOK, out)
}

// A cursor is the last key of a page, opaque to the caller.
func encodeCursor(k latchkey.ConnectionKey) string {
	b, _ := json.Marshal([4]string{k.App, k.Org, k.User, k.Config})
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(s string) (latchkey.ConnectionKey, bool) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	var parts [4]string
	if err != nil || json.Unmarshal(b, &parts) != nil {
		return latchkey.ConnectionKey{}, false
	}
	return latchkey.ConnectionKey{App: parts[0], Org: parts[1], User: parts[2], Config: parts[3]}, true
}
