package httpapi

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/latchkey/latchkey/pkg/latchkey"
	"github.com/latchkey/latchkey/pkg/proxy"
)

func (s *Server) apiRoutes(g *echo.Group) {
	g.POST("/apps/:app/orgs/:org/users/:user/apis/:api", s.callAPI)
	g.POST("/apps/:app/orgs/:org/apis/:api", s.callAPI)
	g.POST("/apps/:app/orgs/:org/users/:user/connections/:config/verify", s.verifyConnection)
	g.POST("/apps/:app/orgs/:org/connections/:config/verify", s.verifyConnection)
}

// verifyConnection runs the config's verify_api on the connection (the UI's
// Test connection) and answers its outcome: ok, the provider's status, the
// names of the settings its answer filled.
func (s *Server) verifyConnection(c echo.Context) error {
	key := connectionKey(c)
	if err := requireApp(c, key.App); err != nil {
		return err
	}
	start := time.Now()
	v, err := s.engine.Verify(c.Request().Context(), key)
	res := proxy.Result{Status: v.Status, Err: err}
	s.observeCall(c, "api", key, res, start, "verify "+v.API)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, v)
}

// callAPI calls one of the app's declared APIs with the parameters of the
// JSON body ({"id": "42"}) on the connection of the API's config, and passes
// the provider's status, body, content type and a few safe headers back.
func (s *Server) callAPI(c echo.Context) error {
	app, org, user, name := c.Param("app"), c.Param("org"), c.Param("user"), c.Param("api")
	if err := requireApp(c, app); err != nil {
		return err
	}
	call, done, err := callOptions(c)
	if err != nil {
		return err
	}
	defer done()
	params, err := readParams(c)
	if err != nil {
		return err
	}
	start := time.Now()
	key := latchkey.ConnectionKey{App: app, Org: org, User: user}
	// The trace learns its config from the API (PrepareAPI sets its key).
	ctx, rec := s.startTrace(c.Request().Context(), latchkey.TraceAPI, key, name)
	if rec != nil {
		c.SetRequest(c.Request().WithContext(ctx))
	}
	up, err := s.engine.PrepareAPI(ctx, app, org, user, name, params)
	if err != nil {
		failCall(rec, err)
		s.observeCall(c, "api", key, proxy.Result{Err: err}, start, "api "+name)
		return err
	}
	call.Upstream, call.Declared = up, true
	res := s.proxy.Serve(c.Response(), c.Request(), call, func(err error) { s.handleError(err, c) })
	finishCall(rec, res)
	s.observeCall(c, "api", up.Key(), res, start, "api "+name)
	return nil
}

// readParams reads a JSON object of parameters; numbers and booleans are
// taken as their text.
func readParams(c echo.Context) (map[string]string, error) {
	body, err := io.ReadAll(c.Request().Body)
	if err != nil {
		return nil, latchkey.WrapError(latchkey.EBADREQUEST, err, "the request body cannot be read")
	}
	params := map[string]string{}
	if len(body) == 0 {
		return params, nil
	}
	var raw map[string]any
	if err := json.Unmarshal(body, &raw); err != nil {
		return nil, &latchkey.Error{Code: latchkey.EINVALID, Message: "the body must be a JSON object of the API's parameters",
			Fields: []latchkey.FieldError{{Field: "", Message: err.Error()}}}
	}
	var fe latchkey.FieldErrors
	for k, v := range raw {
		switch v := v.(type) {
		case string:
			params[k] = v
		case float64:
			params[k] = strconv.FormatFloat(v, 'f', -1, 64)
		case bool:
			params[k] = strconv.FormatBool(v)
		default:
			fe.Add(k, "must be a string, a number or a boolean")
		}
	}
	return params, fe.Err("the API's parameters are not right")
}
