package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// adminsSession is a browser signed in to the builder UI, with the CSRF
// token its changes carry.
type adminsSession struct {
	*browserClient
	csrf map[string]string
}

// adminsSignIn signs email in from a browser of its own.
func adminsSignIn(tb testing.TB, h *harness, email, password string) *adminsSession {
	tb.Helper()
	b := newBrowserClient(tb, h.main.URL)
	resp, body := b.send("POST", "/api/v1/session", nil, "application/json", `{"email":"`+email+`","password":"`+password+`"}`)
	if resp.StatusCode != http.StatusCreated {
		tb.Fatalf("sign-in of %s: got HTTP %d %s, want 201", email, resp.StatusCode, body)
	}
	return &adminsSession{browserClient: b, csrf: map[string]string{"X-CSRF-Token": adminsCSRF(tb, body)}}
}

func adminsCSRF(tb testing.TB, body string) string {
	tb.Helper()
	var sess struct {
		CSRFToken string `json:"csrf_token"`
	}
	if err := json.Unmarshal([]byte(body), &sess); err != nil || sess.CSRFToken == "" {
		tb.Fatalf("got %s, want a session with a CSRF token", body)
	}
	return sess.CSRFToken
}

// expect sends a JSON request with the session's CSRF token and fails
// unless the answer has status want.
func (a *adminsSession) expect(want int, method, path, body string) string {
	a.tb.Helper()
	ctype := ""
	if body != "" {
		ctype = "application/json"
	}
	resp, out := a.send(method, path, a.csrf, ctype, body)
	if resp.StatusCode != want {
		a.tb.Fatalf("%s %s: got HTTP %d %s, want %d", method, path, resp.StatusCode, out, want)
	}
	return out
}

// adminsField returns the field the error body names, and its message.
func adminsField(tb testing.TB, body string) (string, string) {
	tb.Helper()
	var e struct {
		Error struct {
			Details []struct{ Field, Message string } `json:"details"`
		} `json:"error"`
	}
	if err := json.Unmarshal([]byte(body), &e); err != nil || len(e.Error.Details) == 0 {
		tb.Fatalf("got %s, want an error naming a field", body)
	}
	return e.Error.Details[0].Field, e.Error.Details[0].Message
}

// TestAdminsAddAndList has a signed-in admin add another admin account:
// it is listed without its hash and can sign in; a taken email, a short
// password and an email that is not one are refused, each naming its field;
// the audit log records the addition, never the password.
func TestAdminsAddAndList(t *testing.T) {
	h := startLatchkey(t)
	addAdmin(t, h)
	ada := adminsSignIn(t, h, testAdminEmail, testAdminPassword)

	created := ada.expect(http.StatusCreated, "POST", "/api/v1/admins", `{"email":" Grace@Example.com","password":"grace's long passphrase"}`)
	if !strings.Contains(created, `"email":"grace@example.com"`) {
		t.Fatalf("got %s, want grace's account in lower case", created)
	}
	list := ada.expect(http.StatusOK, "GET", "/api/v1/admins", "")
	var got struct {
		Admins []map[string]any `json:"admins"`
	}
	// admin@localhost is the account created on first run.
	if err := json.Unmarshal([]byte(list), &got); err != nil || len(got.Admins) != 3 || got.Admins[0]["email"] != testAdminEmail ||
		got.Admins[1]["email"] != defaultAdminEmail || got.Admins[2]["email"] != "grace@example.com" {
		t.Fatalf("got %s, want ada, admin@localhost and grace, by email", list)
	}
	for _, a := range got.Admins {
		if len(a) != 2 || a["created_at"] == nil {
			t.Errorf("got admin %v, want only its email and created_at", a)
		}
	}
	adminsSignIn(t, h, "grace@example.com", "grace's long passphrase")

	for _, tc := range []struct {
		name, body string
		status     int
		field      string
	}{
		{"a taken email", `{"email":"GRACE@example.com","password":"another long passphrase"}`, http.StatusConflict, "email"},
		{"a short password", `{"email":"alan@example.com","password":"short"}`, http.StatusUnprocessableEntity, "password"},
		{"no password", `{"email":"alan@example.com"}`, http.StatusUnprocessableEntity, "password"},
		{"an email without @", `{"email":"alan","password":"a long enough passphrase"}`, http.StatusUnprocessableEntity, "email"},
		{"an email with a slash", `{"email":"al/an@example.com","password":"a long enough passphrase"}`, http.StatusUnprocessableEntity, "email"},
		{"an email with a space", `{"email":"al an@example.com","password":"a long enough passphrase"}`, http.StatusUnprocessableEntity, "email"},
		{"an unknown field", `{"email":"alan@example.com","password":"a long enough passphrase","admin":true}`, http.StatusUnprocessableEntity, "admin"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := ada.expect(tc.status, "POST", "/api/v1/admins", tc.body)
			if field, _ := adminsField(t, body); field != tc.field {
				t.Errorf("got %s, want the field %s named", body, tc.field)
			}
		})
	}
	if list := ada.expect(http.StatusOK, "GET", "/api/v1/admins", ""); strings.Contains(list, "alan") {
		t.Errorf("got %s after the refused adds, want no alan", list)
	}

	audit := ada.expect(http.StatusOK, "GET", "/api/v1/audit?action=admin.create", "")
	if !strings.Contains(audit, `"actor":"admin:ada@example.com"`) || !strings.Contains(audit, "admin grace@example.com") {
		t.Errorf("got audit %s, want ada's admin.create of grace", audit)
	}
	h.assertNoLeak("grace's long passphrase")
	if strings.Contains(h.logs.String(), "grace's long passphrase") {
		t.Error("the password is in the server's log")
	}
}

// TestAdminsDeleteEndsTheSessions deletes a signed-in admin: the deleted
// admin's next request is refused with 401. Admins cannot delete their own
// account, an unknown one is 404, and the last admin is never deleted,
// not even with an admin API key.
func TestAdminsDeleteEndsTheSessions(t *testing.T) {
	h := startLatchkey(t)
	addAdmin(t, h)
	ada := adminsSignIn(t, h, testAdminEmail, testAdminPassword)
	ada.expect(http.StatusCreated, "POST", "/api/v1/admins", `{"email":"grace@example.com","password":"grace's long passphrase"}`)
	grace := adminsSignIn(t, h, "grace@example.com", "grace's long passphrase")
	grace.expect(http.StatusOK, "GET", "/api/v1/apps", "")

	body := grace.expect(http.StatusConflict, "DELETE", "/api/v1/admins/grace@example.com", "")
	if field, msg := adminsField(t, body); field != "email" || !strings.Contains(body, "signed in with") {
		t.Errorf("deleting herself: got %s (%s: %s), want a refusal naming email", body, field, msg)
	}
	ada.expect(http.StatusNotFound, "DELETE", "/api/v1/admins/nobody@example.com", "")
	ada.expect(http.StatusNoContent, "DELETE", "/api/v1/admins/Grace@example.com", "")
	grace.expect(http.StatusUnauthorized, "GET", "/api/v1/apps", "")
	if resp, _ := grace.send("POST", "/api/v1/session", nil, "application/json", `{"email":"grace@example.com","password":"grace's long passphrase"}`); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("grace signing in after her delete: got HTTP %d, want 401", resp.StatusCode)
	}
	ada.expect(http.StatusOK, "GET", "/api/v1/apps", "")

	// Once the first run's account is gone, ada is the last admin: an
	// admin key, which has no account of its own, cannot delete her.
	h.expect(http.StatusNoContent, "DELETE", "/api/v1/admins/"+defaultAdminEmail, testAdminKey, "", "")
	body = string(h.expect(http.StatusConflict, "DELETE", "/api/v1/admins/ada@example.com", testAdminKey, "", ""))
	if field, _ := adminsField(t, body); field != "email" || !strings.Contains(body, "last admin") {
		t.Errorf("deleting the last admin: got %s, want a refusal naming email and saying why", body)
	}
	audit := ada.expect(http.StatusOK, "GET", "/api/v1/audit?action=admin.delete", "")
	if !strings.Contains(audit, "admin grace@example.com") {
		t.Errorf("got audit %s, want the delete of grace", audit)
	}
}

// TestAdminsPasswordChangeEndsOtherSessions changes passwords: admins
// changing their own give the current one and stay signed in on a renewed
// session while their other browsers are signed out; an admin resetting
// another's password ends all of that admin's sessions.
func TestAdminsPasswordChangeEndsOtherSessions(t *testing.T) {
	h := startLatchkey(t)
	addAdmin(t, h)
	ada := adminsSignIn(t, h, testAdminEmail, testAdminPassword)
	adaElsewhere := adminsSignIn(t, h, testAdminEmail, testAdminPassword)
	const path = "/api/v1/admins/ada@example.com/password"
	const newPassword = "ada's brand new passphrase"

	for _, tc := range []struct {
		name, body string
		status     int
		field      string
	}{
		{"without the current password", `{"password":"` + newPassword + `"}`, http.StatusUnprocessableEntity, "current_password"},
		{"with a wrong current password", `{"password":"` + newPassword + `","current_password":"not my password"}`, http.StatusForbidden, "current_password"},
		{"with a short new password", `{"password":"short","current_password":"` + testAdminPassword + `"}`, http.StatusUnprocessableEntity, "password"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := ada.expect(tc.status, "PUT", path, tc.body)
			if field, _ := adminsField(t, body); field != tc.field {
				t.Errorf("got %s, want the field %s named", body, tc.field)
			}
		})
	}
	adaElsewhere.expect(http.StatusOK, "GET", "/api/v1/apps", "")

	renewed := ada.expect(http.StatusOK, "PUT", path, `{"password":"`+newPassword+`","current_password":"`+testAdminPassword+`"}`)
	ada.csrf["X-CSRF-Token"] = adminsCSRF(t, renewed)
	adaElsewhere.expect(http.StatusUnauthorized, "GET", "/api/v1/apps", "")
	ada.expect(http.StatusOK, "GET", "/api/v1/apps", "")
	ada.expect(http.StatusCreated, "POST", "/api/v1/admins", `{"email":"grace@example.com","password":"grace's long passphrase"}`)
	if resp, _ := adaElsewhere.send("POST", "/api/v1/session", nil, "application/json", `{"email":"ada@example.com","password":"`+testAdminPassword+`"}`); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("signing in with the old password: got HTTP %d, want 401", resp.StatusCode)
	}
	adminsSignIn(t, h, testAdminEmail, newPassword)

	// Another admin's password is reset without knowing it, and every one
	// of that admin's sessions ends.
	grace := adminsSignIn(t, h, "grace@example.com", "grace's long passphrase")
	body := ada.expect(http.StatusUnprocessableEntity, "PUT", "/api/v1/admins/grace@example.com/password", `{"password":"grace's reset passphrase","current_password":"guess"}`)
	if field, _ := adminsField(t, body); field != "current_password" {
		t.Errorf("a current password for another admin: got %s, want current_password named", body)
	}
	ada.expect(http.StatusNoContent, "PUT", "/api/v1/admins/grace@example.com/password", `{"password":"grace's reset passphrase"}`)
	grace.expect(http.StatusUnauthorized, "GET", "/api/v1/apps", "")
	adminsSignIn(t, h, "grace@example.com", "grace's reset passphrase")
	ada.expect(http.StatusNotFound, "PUT", "/api/v1/admins/nobody@example.com/password", `{"password":"a long enough passphrase"}`)

	audit := ada.expect(http.StatusOK, "GET", "/api/v1/audit?action=admin.password", "")
	if strings.Count(audit, `"action":"admin.password"`) != 2 {
		t.Errorf("got audit %s, want ada's and grace's password changes", audit)
	}
	h.assertNoLeak(newPassword, "grace's reset passphrase")
}

// TestAdminsAreNeverAnOAuthTokensToManage: a token of Latchkey's OAuth
// server, whatever its scopes, cannot list or add admin accounts (an
// account it made would have every permission), and no group may hold the
// routes' permission, admins:manage.
func TestAdminsAreNeverAnOAuthTokensToManage(t *testing.T) {
	h := startLatchkey(t)
	addAdmin(t, h)
	clientID := oauthSetup(t, h)
	tok := issueToken(t, h, clientID, "read", "write")
	for _, r := range []struct{ method, path, body string }{
		{"GET", "/api/v1/admins", ""},
		{"POST", "/api/v1/admins", `{"email":"mallory@example.com","password":"mallory's long passphrase"}`},
		{"DELETE", "/api/v1/admins/ada@example.com", ""},
		{"PUT", "/api/v1/admins/ada@example.com/password", `{"password":"mallory's long passphrase"}`},
	} {
		resp, body := h.do(r.method, r.path, tok.AccessToken, "application/json", r.body)
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(resp.Header.Get("WWW-Authenticate"), "insufficient_scope") {
			t.Errorf("%s %s with a token: got HTTP %d %s, want 403 insufficient_scope", r.method, r.path, resp.StatusCode, body)
		}
	}
	body := string(h.expect(http.StatusUnprocessableEntity, "PUT", "/api/v1/oauth/groups/admins", testAdminKey, "application/json", `{"permissions":["admins:manage"]}`))
	if field, _ := adminsField(t, body); field != "permissions[0]" {
		t.Errorf("a group holding admins:manage: got %s, want permissions[0] refused", body)
	}
	if list := string(h.expect(http.StatusOK, "GET", "/api/v1/admins", testAdminKey, "", "")); strings.Contains(list, "mallory") {
		t.Errorf("got admins %s, want no account made with the token", list)
	}
}

// TestAdminsCLIChecksTheEmailAsTheAPIDoes: the CLI refuses an email the
// API could not name in a path (it could never be deleted there), and
// creates and lists a good one.
func TestAdminsCLIChecksTheEmailAsTheAPIDoes(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("LATCHKEY_ADMIN_PASSWORD", "grace's long passphrase")
	var out, errOut strings.Builder
	err := runAdmins(t.Context(), []string{"create", "--data-dir", dir, "--email", "grace hopper@example.com"}, strings.NewReader(""), &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "--email") {
		t.Fatalf("an email with a space: got %v, want an error naming --email", err)
	}
	if err := runAdmins(t.Context(), []string{"create", "--data-dir", dir, "--email", "Grace@Example.com"}, strings.NewReader(""), &out, &errOut); err != nil {
		t.Fatalf("a good email: got %v (%s), want it created", err, errOut.String())
	}
	if err := runAdmins(t.Context(), []string{"list", "--data-dir", dir}, strings.NewReader(""), &out, &errOut); err != nil || !strings.Contains(out.String(), "grace@example.com\t") {
		t.Fatalf("list: got %q (err %v), want grace@example.com", out.String(), err)
	}
}
