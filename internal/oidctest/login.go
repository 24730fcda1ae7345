package oidctest

import (
	"context"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
)

var (
	// ErrLoginRefused is returned when the provider shows its login form
	// again after the credentials were posted: a wrong username or
	// password.
	ErrLoginRefused = errors.New("oidc provider refused the login")
	// ErrAuthorization is returned when the provider redirects back with an
	// OAuth error (error= in the redirect URI) instead of a code.
	ErrAuthorization = errors.New("oidc provider answered with an error")
)

const (
	loginPath = "/login/username"
	maxHops   = 20
	maxPage   = 1 << 20
)

// Endpoints of the provider, as its discovery document gives them.
func (p *Provider) AuthURL() string     { return p.Issuer + "auth" }
func (p *Provider) TokenURL() string    { return p.Issuer + "oauth/token" }
func (p *Provider) UserInfoURL() string { return p.Issuer + "userinfo" }
func (p *Provider) KeysURL() string     { return p.Issuer + "keys" }

// Authorize plays the user's browser for an authorization request: it
// opens authURL (as a relying party's AuthCodeURL makes it), signs in as u
// on the provider's login form, and stops at the first redirect away from
// the provider, to the redirect URI, which it returns without opening, code
// and state in its query. Nothing needs to listen at the redirect URI. An error
// in the redirect is returned both as the URL and as ErrAuthorization.
func (p *Provider) Authorize(ctx context.Context, authURL string, u User) (*url.URL, error) {
	jar, err := cookiejar.New(nil)
	if err != nil {
		return nil, err
	}
	var callback *url.URL
	stop := func(loc *url.URL) bool {
		if !p.isProviderURL(loc) {
			callback = loc
			return true
		}
		return false
	}
	resp, err := p.walk(ctx, &http.Client{Jar: jar}, authURL, u, stop)
	if err != nil {
		return nil, err
	}
	resp.Body.Close()
	if callback == nil {
		return nil, fmt.Errorf("authorize: ended at %s (%s), not redirected back", resp.Request.URL, resp.Status)
	}
	if e := callback.Query().Get("error"); e != "" {
		return callback, fmt.Errorf("authorize: %w: %s: %s", ErrAuthorization, e, callback.Query().Get("error_description"))
	}
	return callback, nil
}

// SignIn plays the user's browser through a whole single sign-on: it opens
// startURL (typically the relying party's "sign in with SSO" link) with
// client, follows every redirect, signs in as u when the provider's login
// form comes up, and returns the first response that is not a redirect,
// body unread: normally the relying party's page after its callback.
// client should have a cookie jar, so that the relying party's state and
// session cookies are kept as a browser keeps them; its CheckRedirect is
// not used.
func (p *Provider) SignIn(ctx context.Context, client *http.Client, startURL string, u User) (*http.Response, error) {
	return p.walk(ctx, client, startURL, u, func(*url.URL) bool { return false })
}

// walk follows redirects by hand from start, so that it can post the login
// form on the way and stop where stop says.
func (p *Provider) walk(ctx context.Context, client *http.Client, start string, u User, stop func(*url.URL) bool) (*http.Response, error) {
	c := *client
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, start, nil)
	if err != nil {
		return nil, fmt.Errorf("sign in: %w", err)
	}
	posted := false
	for range maxHops {
		resp, err := c.Do(req)
		if err != nil {
			return nil, fmt.Errorf("sign in: %w", err)
		}
		switch {
		case resp.StatusCode >= 300 && resp.StatusCode < 400:
			resp.Body.Close()
			loc, err := resp.Location()
			if err != nil {
				return nil, fmt.Errorf("sign in: redirect from %s: %w", req.URL, err)
			}
			if stop(loc) {
				return resp, nil
			}
			req, err = http.NewRequestWithContext(ctx, http.MethodGet, loc.String(), nil)
			if err != nil {
				return nil, fmt.Errorf("sign in: %w", err)
			}
		case resp.StatusCode == http.StatusOK && p.isLoginPage(resp.Request.URL):
			page, err := io.ReadAll(io.LimitReader(resp.Body, maxPage))
			resp.Body.Close()
			if err != nil {
				return nil, fmt.Errorf("sign in: read login page: %w", err)
			}
			if posted {
				return nil, fmt.Errorf("sign in as %q: %w: %s", u.Username, ErrLoginRefused, loginError(page))
			}
			req, err = loginRequest(ctx, resp.Request.URL, page, u)
			if err != nil {
				return nil, err
			}
			posted = true
		default:
			return resp, nil
		}
	}
	return nil, fmt.Errorf("sign in: more than %d redirects from %s", maxHops, start)
}

func (p *Provider) isLoginPage(u *url.URL) bool {
	return p.isProviderURL(u) && u.Path == loginPath
}

// isProviderURL says whether u is on the provider, by whichever loopback
// name it is reached.
func (p *Provider) isProviderURL(u *url.URL) bool {
	iss, err := url.Parse(p.Issuer)
	if err != nil || u.Port() != iss.Port() {
		return false
	}
	switch u.Hostname() {
	case "localhost", "127.0.0.1", "::1":
		return true
	}
	return false
}

var (
	formAction  = regexp.MustCompile(`<form[^>]*\saction="([^"]*)"`)
	hiddenInput = regexp.MustCompile(`<input type="hidden" name="([^"]*)" value="([^"]*)"`)
	errorText   = regexp.MustCompile(`(?s)<p style="color:red[^"]*">(.*?)</p>`)
)

// loginRequest fills the login form on page (the example server's
// login.html: hidden fields, username, password) with u's credentials.
func loginRequest(ctx context.Context, pageURL *url.URL, page []byte, u User) (*http.Request, error) {
	m := formAction.FindSubmatch(page)
	if m == nil {
		return nil, fmt.Errorf("sign in: no form on the login page %s", pageURL)
	}
	action, err := pageURL.Parse(html.UnescapeString(string(m[1])))
	if err != nil {
		return nil, fmt.Errorf("sign in: form action: %w", err)
	}
	form := url.Values{}
	for _, h := range hiddenInput.FindAllSubmatch(page, -1) {
		form.Set(html.UnescapeString(string(h[1])), html.UnescapeString(string(h[2])))
	}
	if form.Get("id") == "" {
		return nil, fmt.Errorf("sign in: the login page %s has no auth request id", pageURL)
	}
	form.Set("username", u.Username)
	form.Set("password", u.Password)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, action.String(), strings.NewReader(form.Encode()))
	if err != nil {
		return nil, fmt.Errorf("sign in: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return req, nil
}

func loginError(page []byte) string {
	if m := errorText.FindSubmatch(page); m != nil {
		return strings.TrimSpace(html.UnescapeString(string(m[1])))
	}
	return "login form shown again"
}
