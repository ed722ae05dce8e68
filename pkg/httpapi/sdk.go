package httpapi

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	sdkjs "github.com/latchkey/latchkey/sdk/js"
)

// connectSDKTag is the ETag of the embedded connect SDK.
var connectSDKTag = func() string {
	sum := sha256.Sum256(sdkjs.ConnectJS)
	return `"` + hex.EncodeToString(sum[:12]) + `"`
}()

func (s *Server) sdkRoutes(e *echo.Echo) {
	e.GET("/sdk/connect.js", serveConnectSDK)
	e.HEAD("/sdk/connect.js", serveConnectSDK)
}

// serveConnectSDK serves the browser connect SDK as an ES module that any
// app's page may import (`import {connect} from
// "https://latchkey.example/sdk/connect.js"`): module scripts load in CORS
// mode, so it carries Access-Control-Allow-Origin: * (a public file, sent
// without credentials). Browsers revalidate it by its ETag after five
// minutes, so an upgrade of Latchkey reaches them soon.
func serveConnectSDK(c echo.Context) error {
	h := c.Response().Header()
	h.Set("Content-Type", "text/javascript; charset=utf-8")
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("Cross-Origin-Resource-Policy", "cross-origin")
	h.Set("Cache-Control", "public, max-age=300")
	h.Set("ETag", connectSDKTag)
	http.ServeContent(c.Response(), c.Request(), "connect.js", time.Time{}, bytes.NewReader(sdkjs.ConnectJS))
	return nil
}
