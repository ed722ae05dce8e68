package httpapi

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/latchkey/latchkey/pkg/latchkey"
	"github.com/latchkey/latchkey/pkg/store"
	"github.com/latchkey/latchkey/pkg/webhook"
)

// Audit actions of webhooks.
const (
	auditWebhookCreate = "webhook.create"
	auditWebhookDelete = "webhook.delete"
)

func (s *Server) webhookRoutes(g *echo.Group) {
	g.GET("/apps/:app/webhooks", s.listWebhooks)
	g.POST("/apps/:app/webhooks", s.createWebhook)
	g.DELETE("/apps/:app/webhooks/:id", s.deleteWebhook)
	g.GET("/apps/:app/webhooks/:id/deliveries", s.listDeliveries)
}

// listWebhooks returns an app's webhooks, without their secrets.
func (s *Server) listWebhooks(c echo.Context) error {
	if err := requireAdmin(c); err != nil {
		return err
	}
	ctx := c.Request().Context()
	if _, err := s.store.GetApp(ctx, c.Param("app")); err != nil {
		return err
	}
	hooks, err := s.store.ListWebhooks(ctx, c.Param("app"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"webhooks": hooks})
}

// createWebhook registers an endpoint for the app's connection events and
// returns its signing secret, the only time it is shown.
func (s *Server) createWebhook(c echo.Context) error {
	if err := requireAdmin(c); err != nil {
		return err
	}
	var req struct {
		URL    string   `json:"url"`
		Events []string `json:"events"`
	}
	if err := readJSON(c, &req, jsonBody{}); err != nil {
		return err
	}
	var fe latchkey.FieldErrors
	if err := webhook.CheckURL(req.URL); err != nil {
		fe.Add("url", "%s", latchkey.ErrorMessage(err))
	}
	for i, ev := range req.Events {
		if !latchkey.EventType(ev).Valid() {
			fe.Add("events["+strconv.Itoa(i)+"]", "is not an event type: use one of %v", latchkey.EventTypes)
		}
	}
	if err := fe.Err("the webhook is not valid"); err != nil {
		return err
	}
	secret, err := webhook.NewSecret()
	if err != nil {
		return err
	}
	id := make([]byte, 8)
	if _, err := rand.Read(id); err != nil {
		return err
	}
	if req.Events == nil {
		req.Events = []string{}
	}
	w := store.Webhook{ID: "wh_" + hex.EncodeToString(id), App: c.Param("app"), URL: req.URL, Events: req.Events, Secret: secret, CreatedAt: s.now().UTC()}
	if err := s.store.CreateWebhook(c.Request().Context(), w); err != nil {
		return err
	}
	s.webhooksChanged(w.App)
	ev := event(c, auditWebhookCreate)
	ev.App, ev.Detail = w.App, "webhook "+w.ID
	s.audit.record(c.Request().Context(), ev)
	noStore(c)
	return c.JSON(http.StatusCreated, map[string]any{"webhook": w, "secret": secret})
}

func (s *Server) deleteWebhook(c echo.Context) error {
	if err := requireAdmin(c); err != nil {
		return err
	}
	if err := s.store.DeleteWebhook(c.Request().Context(), c.Param("app"), c.Param("id")); err != nil {
		return err
	}
	s.webhooksChanged(c.Param("app"))
	ev := event(c, auditWebhookDelete)
	ev.App, ev.Detail = c.Param("app"), "webhook "+c.Param("id")
	s.audit.record(c.Request().Context(), ev)
	return c.NoContent(http.StatusNoContent)
}

// listDeliveries returns a webhook's deliveries, newest first, each with
// its attempts: ?limit= (default 100, at most 1,000).
func (s *Server) listDeliveries(c echo.Context) error {
	if err := requireAdmin(c); err != nil {
		return err
	}
	ctx := c.Request().Context()
	if _, err := s.store.GetWebhook(ctx, c.Param("app"), c.Param("id")); err != nil {
		return err
	}
	limit := 100
	if v := c.QueryParam("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return latchkey.Errorf(latchkey.EINVALID, "limit must be a number from 1 to 1000")
		}
		limit = n
	}
	ds, err := s.store.ListDeliveries(ctx, c.Param("app"), c.Param("id"), limit)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"deliveries": ds})
}
