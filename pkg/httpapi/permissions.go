package httpapi

import "github.com/latchkey/latchkey/pkg/latchkey"

// routePermissions maps every /api/v1 route (method and echo pattern) to
// the permission a token of Latchkey's OAuth server needs to call it (a
// test walks the router so that none is left out). API keys and sessions
// are checked as before: an admin key or a signed-in admin may call every
// route, a runtime key the runtime routes of its app. A token's
// permissions are those of its scopes' groups; an app-scoped permission of
// a group limited to some apps is granted only on routes naming one of
// them (the :app parameter).
var routePermissions = map[string]latchkey.Permission{
	"GET /api/v1/session":    latchkey.PermSession,
	"DELETE /api/v1/session": latchkey.PermSession,
	"POST /api/v1/session":   latchkey.PermSession, // signs in: needs no credential at all

	"GET /api/v1/apps":                              latchkey.PermAppsRead,
	"GET /api/v1/apps/:app":                         latchkey.PermAppsRead,
	"PUT /api/v1/apps/:app":                         latchkey.PermAppsWrite,
	"DELETE /api/v1/apps/:app":                      latchkey.PermAppsWrite,
	"POST /api/v1/apps/:app/promote":                latchkey.PermAppsWrite,
	"POST /api/v1/apps/:app/playground/render":      latchkey.PermAppsRead,
	"POST /api/v1/playground/extract":               latchkey.PermAppsRead,
	"GET /api/v1/providers":                         latchkey.PermAppsRead,
	"GET /api/v1/providers/:name":                   latchkey.PermAppsRead,
	"POST /api/v1/providers/:name/app":              latchkey.PermAppsWrite,
	"POST /api/v1/providers/discover":               latchkey.PermAppsRead,
	"GET /api/v1/apps/:app/orgs":                    latchkey.PermOrgsRead,
	"GET /api/v1/apps/:app/orgs/:org/settings":      latchkey.PermOrgsRead,
	"PUT /api/v1/apps/:app/orgs/:org/settings":      latchkey.PermOrgsWrite,
	"PATCH /api/v1/apps/:app/orgs/:org/settings":    latchkey.PermOrgsWrite,
	"DELETE /api/v1/apps/:app/orgs/:org":            latchkey.PermOrgsWrite,
	"POST /api/v1/apps/:app/orgs/:org/install-link": latchkey.PermLinksCreate,
	"GET /api/v1/apps/:app/install-links":           latchkey.PermOrgsRead,
	"DELETE /api/v1/apps/:app/install-links/:id":    latchkey.PermLinksCreate,

	"GET /api/v1/apps/:app/orgs/:org/users/:user/connections/:config/events":   latchkey.PermConnectionsRead,
	"GET /api/v1/apps/:app/orgs/:org/connections/:config/events":               latchkey.PermConnectionsRead,
	"GET /api/v1/apps/:app/orgs/:org/users/:user/connections/:config/traces":   latchkey.PermConnectionsRead,
	"GET /api/v1/apps/:app/orgs/:org/connections/:config/traces":               latchkey.PermConnectionsRead,
	"GET /api/v1/apps/:app/traces":                                             latchkey.PermConnectionsRead,
	"GET /api/v1/apps/:app/traces/:id":                                         latchkey.PermConnectionsRead,
	"POST /api/v1/apps/:app/orgs/:org/connections/:config/refresh":             latchkey.PermConnectionsWrite,
	"POST /api/v1/apps/:app/orgs/:org/users/:user/connections/:config/refresh": latchkey.PermConnectionsWrite,
	"GET /api/v1/connections":                                                  latchkey.PermConnectionsRead,
	"GET /api/v1/apps/:app/connections":                                        latchkey.PermConnectionsRead,
	"GET /api/v1/apps/:app/orgs/:org/connections/:config":                      latchkey.PermTokensRead, // answers the access token
	"GET /api/v1/apps/:app/orgs/:org/users/:user/connections/:config":          latchkey.PermTokensRead,
	"GET /api/v1/apps/:app/orgs/:org/users/:user/settings/:name":               latchkey.PermTokensRead, // answers a setting's value
	"DELETE /api/v1/apps/:app/orgs/:org/users/:user/connections/:config":       latchkey.PermConnectionsWrite,
	"DELETE /api/v1/apps/:app/orgs/:org/connections/:config":                   latchkey.PermConnectionsWrite,
	"POST /api/v1/apps/:app/orgs/:org/connections/:config/verify":              latchkey.PermConnectionsWrite,
	"POST /api/v1/apps/:app/orgs/:org/users/:user/connections/:config/verify":  latchkey.PermConnectionsWrite,
	"POST /api/v1/apps/:app/orgs/:org/users/:user/connections/:config/link":    latchkey.PermLinksCreate,
	"POST /api/v1/apps/:app/orgs/:org/apis/:api":                               latchkey.PermAPIsCall,
	"POST /api/v1/apps/:app/orgs/:org/users/:user/apis/:api":                   latchkey.PermAPIsCall,
	"* /api/v1/apps/:app/orgs/:org/connections/:config/proxy/*":                latchkey.PermAPIsCall,
	"* /api/v1/apps/:app/orgs/:org/users/:user/connections/:config/proxy/*":    latchkey.PermAPIsCall,
	"GET /api/v1/apps/:app/webhooks":                                           latchkey.PermWebhooksRead,
	"GET /api/v1/apps/:app/webhooks/:id/deliveries":                            latchkey.PermWebhooksRead,
	"POST /api/v1/apps/:app/webhooks":                                          latchkey.PermWebhooksWrite,
	"DELETE /api/v1/apps/:app/webhooks/:id":                                    latchkey.PermWebhooksWrite,

	"GET /api/v1/audit":                  latchkey.PermAuditRead,
	"GET /api/v1/apikeys":                latchkey.PermKeysManage,
	"POST /api/v1/apikeys":               latchkey.PermKeysManage,
	"DELETE /api/v1/apikeys/:id":         latchkey.PermKeysManage,
	"GET /api/v1/admins":                 latchkey.PermAdminsManage, // never a token's: see PermAdminsManage
	"POST /api/v1/admins":                latchkey.PermAdminsManage,
	"DELETE /api/v1/admins/:email":       latchkey.PermAdminsManage,
	"PUT /api/v1/admins/:email/password": latchkey.PermAdminsManage,
	"GET /api/v1/environments":           latchkey.PermAppsRead,
	"POST /api/v1/environments":          latchkey.PermEnvironments,
	"PUT /api/v1/environments/:env":      latchkey.PermEnvironments,
	"DELETE /api/v1/environments/:env":   latchkey.PermEnvironments,
	"GET /api/v1/openapi.json":           latchkey.PermAppsRead,

	"GET /api/v1/oauth/server":                latchkey.PermOAuthManage,
	"PUT /api/v1/oauth/server":                latchkey.PermOAuthManage,
	"GET /api/v1/oauth/permissions":           latchkey.PermOAuthManage,
	"GET /api/v1/oauth/groups":                latchkey.PermOAuthManage,
	"PUT /api/v1/oauth/groups/:name":          latchkey.PermOAuthManage,
	"DELETE /api/v1/oauth/groups/:name":       latchkey.PermOAuthManage,
	"GET /api/v1/oauth/scopes":                latchkey.PermOAuthManage,
	"PUT /api/v1/oauth/scopes/:name":          latchkey.PermOAuthManage,
	"DELETE /api/v1/oauth/scopes/:name":       latchkey.PermOAuthManage,
	"GET /api/v1/oauth/apps":                  latchkey.PermOAuthManage,
	"POST /api/v1/oauth/apps":                 latchkey.PermOAuthManage,
	"GET /api/v1/oauth/apps/:name":            latchkey.PermOAuthManage,
	"PUT /api/v1/oauth/apps/:name":            latchkey.PermOAuthManage,
	"DELETE /api/v1/oauth/apps/:name":         latchkey.PermOAuthManage,
	"PUT /api/v1/oauth/apps/:name/icon":       latchkey.PermOAuthManage,
	"DELETE /api/v1/oauth/apps/:name/icon":    latchkey.PermOAuthManage,
	"GET /api/v1/oauth/authorizations":        latchkey.PermOAuthManage,
	"DELETE /api/v1/oauth/authorizations/:id": latchkey.PermOAuthManage,
}

// routePermission returns the permission route (method and pattern) needs,
// and whether the table has it.
func routePermission(method, pattern string) (latchkey.Permission, bool) {
	if p, ok := routePermissions[method+" "+pattern]; ok {
		return p, true
	}
	p, ok := routePermissions["* "+pattern]
	return p, ok
}
