package httpapi

import (
	"net/http"
	"sort"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/latchkey/latchkey/pkg/latchkey"
)

// TestEveryAPIRouteNeedsAPermission walks the router: every /api/v1 route
// must be in the permission table, so that a token of Latchkey's OAuth
// server can never reach a route nobody decided about, and the table names
// no route that is gone.
func TestEveryAPIRouteNeedsAPermission(t *testing.T) {
	srv, err := New(Config{MetricsHandler: http.NotFoundHandler()})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	var missing []string
	used := map[string]bool{}
	for _, r := range srv.echo.Routes() {
		if r.Method == echo.RouteNotFound || !strings.HasPrefix(r.Path, "/api/v1") {
			continue
		}
		if _, ok := routePermission(r.Method, r.Path); !ok {
			missing = append(missing, r.Method+" "+r.Path)
			continue
		}
		if _, ok := routePermissions[r.Method+" "+r.Path]; ok {
			used[r.Method+" "+r.Path] = true
		} else {
			used["* "+r.Path] = true
		}
	}
	sort.Strings(missing)
	for _, m := range missing {
		t.Errorf("route %s needs an entry in routePermissions (permissions.go)", m)
	}
	for k := range routePermissions {
		if !used[k] {
			t.Errorf("routePermissions names %s, which no route serves", k)
		}
	}
}

// TestAdminAccountsAreNeverAToken's checks that the admin-account routes
// need PermAdminsManage, which no group may hold: a token of Latchkey's
// OAuth server that could add an admin would reach every permission.
func TestAdminAccountsAreNeverAToken(t *testing.T) {
	for route, p := range routePermissions {
		if strings.HasPrefix(strings.SplitN(route, " ", 2)[1], "/api/v1/admins") && p != latchkey.PermAdminsManage {
			t.Errorf("route %s needs %s, want %s", route, p, latchkey.PermAdminsManage)
		}
	}
	if latchkey.PermAdminsManage.Known() {
		t.Errorf("%s is a permission a group may hold, want it never granted", latchkey.PermAdminsManage)
	}
}
