package authserver

import (
	"errors"
	"net/http"
	"strings"

	"github.com/ory/fosite"
)

// TokenError is a failed answer of the token endpoint: an RFC 6749 §5.2
// error code with the seed's own words as its description.
type TokenError struct {
	Status      int    `json:"-"`
	Code        string `json:"error"`
	Description string `json:"error_description"`
	// Cause is what failed inside, for the log; never shown.
	Cause error `json:"-"`
}

// Error implements error.
func (e *TokenError) Error() string { return e.Code + ": " + e.Description }

// The seed's error table (seed 000, "General Error Codes"), row by row,
// each with the RFC 6749 §5.2 code it is answered with. The seed answers
// every one with 400 but for the last three; a client that sent its
// credentials in an Authorization header gets 401 for a wrong one, as
// RFC 6749 §5.2 requires.
var (
	ErrInvalidClientID   = &TokenError{http.StatusBadRequest, "invalid_client", "Invalid client ID. Double-check the accuracy of the client ID.", nil}
	ErrClientAuth        = &TokenError{http.StatusBadRequest, "invalid_client", "Client authentication failed: a confidential OAuth app must send its client secret (HTTP Basic or client_secret), a public one PKCE's code_verifier.", nil}
	ErrNotEnabled        = &TokenError{http.StatusBadRequest, "unauthorized_client", "OAuth is not enabled. Ensure that OAuth support is enabled for this environment.", nil}
	ErrInvalidCode       = &TokenError{http.StatusBadRequest, "invalid_grant", "Invalid authorization code. The provided authorization code is invalid. Obtain a new one using the authorize URL.", nil}
	ErrCodeUsed          = &TokenError{http.StatusBadRequest, "invalid_grant", "Invalid authorization code. It was used already, so every token issued with it is revoked. Obtain a new one using the authorize URL.", nil}
	ErrCodeExpired       = &TokenError{http.StatusBadRequest, "invalid_grant", "Authorization code has expired.", nil}
	ErrNotAuthorized     = &TokenError{http.StatusBadRequest, "invalid_grant", "App is not authorized by the user.", nil}
	ErrInvalidGrantType  = &TokenError{http.StatusBadRequest, "unsupported_grant_type", "Invalid grant type. Only authorization_code and refresh_token are accepted values.", nil}
	ErrRefreshExpired    = &TokenError{http.StatusBadRequest, "invalid_grant", "Refresh token has expired.", nil}
	ErrInvalidRefresh    = &TokenError{http.StatusBadRequest, "invalid_grant", "Invalid refresh token. Obtain a new authorization code using the authorize URL.", nil}
	ErrRefreshReused     = &TokenError{http.StatusBadRequest, "invalid_grant", "The refresh token was used already, so every token of this grant is revoked. Authorize the app again.", nil}
	ErrTokenMissing      = &TokenError{http.StatusBadRequest, "invalid_request", "Token is missing. Send the authorization code (code) or the refresh token (refresh_token, or code as the seed's clients do).", nil}
	ErrUnknownOAuthError = &TokenError{http.StatusInternalServerError, "server_error", "Unknown OAuth error. If you encounter this error unexpectedly, please contact support.", nil}
)

// errAppNotAuthorized marks a code or token whose authorization was revoked.
var errAppNotAuthorized = errors.New("the authorization was revoked")

// TokenErrorOf says a failure of fosite's token endpoint in the seed's
// words. grantType is the request's; basicAuth says whether the client
// authenticated with an Authorization header.
func TokenErrorOf(err error, grantType string, basicAuth bool) *TokenError {
	var te *TokenError
	if errors.As(err, &te) {
		return te
	}
	with := func(e *TokenError) *TokenError { c := *e; c.Cause = err; return &c }
	var rfc *fosite.RFC6749Error
	if !errors.As(err, &rfc) {
		return with(ErrUnknownOAuthError)
	}
	refresh := grantType == "refresh_token"
	switch rfc.ErrorField {
	case fosite.ErrInvalidClient.ErrorField:
		e := with(ErrClientAuth)
		if errors.Is(err, fosite.ErrNotFound) {
			e = with(ErrInvalidClientID)
		}
		if basicAuth {
			e.Status = http.StatusUnauthorized
		}
		return e
	case fosite.ErrInvalidGrant.ErrorField, fosite.ErrTokenExpired.ErrorField:
		switch {
		case errors.Is(err, errAppNotAuthorized):
			return with(ErrNotAuthorized)
		case errors.Is(err, fosite.ErrTokenExpired) || rfc.ErrorField == fosite.ErrTokenExpired.ErrorField:
			if refresh {
				return with(ErrRefreshExpired)
			}
			return with(ErrCodeExpired)
		case refresh && errors.Is(err, fosite.ErrInactiveToken):
			return with(ErrRefreshReused)
		case refresh:
			return with(ErrInvalidRefresh)
		case strings.Contains(rfc.HintField, "already been used"):
			return with(ErrCodeUsed)
		case strings.Contains(rfc.HintField, "redirect_uri"):
			return &TokenError{http.StatusBadRequest, "invalid_grant", "The redirect_uri is not the one the authorization request sent.", err}
		case strings.Contains(rfc.HintField, "Client ID"):
			return &TokenError{http.StatusBadRequest, "invalid_grant", "The authorization code was issued to another client.", err}
		case strings.Contains(strings.ToLower(rfc.HintField), "pkce") || strings.Contains(rfc.HintField, "code_verifier"):
			return &TokenError{http.StatusBadRequest, "invalid_grant", "The PKCE code_verifier does not match the code_challenge of the authorization request.", err}
		}
		return with(ErrInvalidCode)
	case fosite.ErrUnsupportedGrantType.ErrorField, fosite.ErrInvalidRequest.ErrorField + "_grant_type":
		return with(ErrInvalidGrantType)
	case fosite.ErrInvalidScope.ErrorField:
		return &TokenError{http.StatusBadRequest, "invalid_scope", "The requested scope is invalid, unknown, or not granted to this OAuth app.", err}
	case fosite.ErrInvalidRequest.ErrorField:
		if errors.Is(err, fosite.ErrNotFound) || errors.Is(err, fosite.ErrInactiveToken) || errors.Is(err, fosite.ErrSerializationFailure) {
			// Another refresh with the same token won the race.
			return &TokenError{http.StatusBadRequest, "invalid_grant", "The refresh token was used by a concurrent request. Use the tokens that request received.", err}
		}
		if strings.Contains(strings.ToLower(rfc.HintField), "pkce") || strings.Contains(rfc.HintField, "code_verifier") {
			return &TokenError{http.StatusBadRequest, "invalid_request", "A public OAuth app must send PKCE's code_verifier (RFC 7636).", err}
		}
		return &TokenError{http.StatusBadRequest, "invalid_request", "The token request is malformed: " + rfc.GetDescription(), err}
	case fosite.ErrUnauthorizedClient.ErrorField:
		return &TokenError{http.StatusBadRequest, "unauthorized_client", "This OAuth app may not use this grant type.", err}
	}
	if rfc.CodeField >= 500 || rfc.ErrorField == fosite.ErrServerError.ErrorField {
		return with(ErrUnknownOAuthError)
	}
	return &TokenError{http.StatusBadRequest, rfc.ErrorField, rfc.GetDescription(), err}
}
