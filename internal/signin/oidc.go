package signin

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// OIDCConfig sets up single sign-on with the SIC's own OpenID Connect
// provider. It only proves an email address: the member is the active one
// with that address, and their roles are the ones this server gives them.
type OIDCConfig struct {
	// Issuer is the provider's issuer URL, exactly as its discovery
	// document and its tokens give it.
	Issuer string
	// ClientID and ClientSecret are what the provider registered this
	// server as; ID tokens must name ClientID as their audience.
	ClientID, ClientSecret string
	// RedirectURL is the callback registered with the provider. Default:
	// the site's BaseURL, Prefix and "/oidc/callback".
	RedirectURL string
	// DisplayName names the provider on the sign-in button ("Sign in with
	// DisplayName"). Default: the issuer's host.
	DisplayName string
	// Scopes asked for; "openid" must be one. Default: openid email profile.
	Scopes []string
	// Timeout bounds each request to the provider.
	Timeout time.Duration
	// Now is the clock ID tokens are checked against. Default: time.Now.
	Now func() time.Time
}

// DefaultOIDCConfig returns the settings other than the provider's.
func DefaultOIDCConfig() OIDCConfig {
	return OIDCConfig{Scopes: []string{oidc.ScopeOpenID, "email", "profile"}, Timeout: 10 * time.Second}
}

// Validate reports every field that is wrong.
func (c OIDCConfig) Validate() error {
	var errs []error
	if err := checkProviderURL("Issuer", c.Issuer); err != nil {
		errs = append(errs, err)
	}
	if c.RedirectURL != "" {
		if err := checkProviderURL("RedirectURL", c.RedirectURL); err != nil {
			errs = append(errs, err)
		}
	}
	if c.ClientID == "" || len(c.ClientID) > 255 {
		errs = append(errs, errors.New("signin: OIDC ClientID must be 1 to 255 bytes"))
	}
	if c.ClientSecret == "" {
		errs = append(errs, errors.New("signin: OIDC ClientSecret is empty"))
	}
	if len(c.DisplayName) > 100 {
		errs = append(errs, errors.New("signin: OIDC DisplayName is longer than 100 bytes"))
	}
	if len(c.Scopes) > 0 && !slices.Contains(c.Scopes, oidc.ScopeOpenID) {
		errs = append(errs, fmt.Errorf("signin: OIDC Scopes %q lack %q", c.Scopes, oidc.ScopeOpenID))
	}
	if c.Timeout <= 0 {
		errs = append(errs, errors.New("signin: OIDC Timeout must be positive"))
	}
	return errors.Join(errs...)
}

// checkProviderURL accepts https, and plain http only to the loopback
// interface, where a provider for development or tests runs.
func checkProviderURL(field, raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.User != nil || u.Fragment != "" {
		return fmt.Errorf("signin: OIDC %s %q is not an absolute URL", field, raw)
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		host := u.Hostname()
		if ip := net.ParseIP(host); host == "localhost" || ip != nil && ip.IsLoopback() {
			return nil
		}
	}
	return fmt.Errorf("signin: OIDC %s %q must use https (http only on loopback)", field, raw)
}

// Limits on what the provider and the browser send in a sign-in.
const (
	maxProviderBody = 1 << 20
	maxCode         = 2048
	flowTTL         = 10 * time.Minute
)

var (
	errFlowState   = errors.New("state does not match this browser's sign-in")
	errNoIDToken   = errors.New("token response has no ID token")
	errNonce       = errors.New("ID token nonce does not match")
	errSubject     = errors.New("userinfo subject differs from the ID token's")
	errUnverified  = errors.New("email address not verified by the provider")
	errNoEmail     = errors.New("provider gave no email address")
	errUnknownUser = errors.New("no active member with this email")
)

// oidcFlow runs the authorization code flow with one provider.
type oidcFlow struct {
	cfg    OIDCConfig
	client *http.Client
	// ctx carries client for go-oidc, including the key set's later
	// fetches, which outlive any one request.
	ctx context.Context

	mu       sync.Mutex
	provider *oidc.Provider
}

func newOIDCFlow(cfg OIDCConfig) *oidcFlow {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if len(cfg.Scopes) == 0 {
		cfg.Scopes = DefaultOIDCConfig().Scopes
	}
	client := &http.Client{Timeout: cfg.Timeout, Transport: limitedTransport{http.DefaultTransport}}
	return &oidcFlow{cfg: cfg, client: client, ctx: oidc.ClientContext(context.Background(), client)}
}

// limitedTransport cuts every response body from the provider at
// maxProviderBody: go-oidc reads a userinfo answer whole.
type limitedTransport struct{ next http.RoundTripper }

func (t limitedTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	resp.Body = struct {
		io.Reader
		io.Closer
	}{io.LimitReader(resp.Body, maxProviderBody), resp.Body}
	return resp, nil
}

// discover fetches the provider's discovery document the first time it is
// needed, and again after a failure, so that a server starts while its
// provider is down.
func (o *oidcFlow) discover(ctx context.Context) (*oidc.Provider, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.provider != nil {
		return o.provider, nil
	}
	ctx, cancel := context.WithTimeout(oidc.ClientContext(ctx, o.client), o.cfg.Timeout)
	defer cancel()
	p, err := oidc.NewProvider(ctx, o.cfg.Issuer)
	if err != nil {
		return nil, fmt.Errorf("discover %s: %w", o.cfg.Issuer, err)
	}
	o.provider = p
	return p, nil
}

func (o *oidcFlow) oauth2(p *oidc.Provider) *oauth2.Config {
	return &oauth2.Config{ClientID: o.cfg.ClientID, ClientSecret: o.cfg.ClientSecret, Endpoint: p.Endpoint(),
		RedirectURL: o.cfg.RedirectURL, Scopes: o.cfg.Scopes}
}

// flow is what a browser's sign-in carries between start and callback, in
// a cookie: the state that ties the callback to this browser, the nonce
// the ID token must carry, the PKCE verifier, and where to go after.
type flow struct {
	State, Nonce, Verifier, Next string
}

func randomString() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func (f flow) encode() string {
	return strings.Join([]string{f.State, f.Nonce, f.Verifier, base64.RawURLEncoding.EncodeToString([]byte(f.Next))}, ".")
}

// parseFlow decodes a flow cookie, which the browser sends back and anyone
// may have written.
func parseFlow(s string) (flow, bool) {
	if len(s) > 4096 {
		return flow{}, false
	}
	parts := strings.Split(s, ".")
	if len(parts) != 4 {
		return flow{}, false
	}
	for _, p := range parts[:3] {
		if len(p) != 43 || strings.Trim(p, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") != "" {
			return flow{}, false
		}
	}
	next, err := base64.RawURLEncoding.DecodeString(parts[3])
	if err != nil {
		return flow{}, false
	}
	return flow{State: parts[0], Nonce: parts[1], Verifier: parts[2], Next: string(next)}, true
}

// identity is what the provider vouches for.
type identity struct {
	Subject, Email string
	Verified       bool
}

// flexBool reads email_verified, which some providers send as a string.
type flexBool struct {
	set, value bool
}

func (b *flexBool) UnmarshalJSON(data []byte) error {
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		return err
	}
	switch x := v.(type) {
	case bool:
		*b = flexBool{set: true, value: x}
	case string:
		*b = flexBool{set: true, value: x == "true"}
	case nil:
		*b = flexBool{}
	default:
		return fmt.Errorf("email_verified is %T, not a boolean", v)
	}
	return nil
}

type emailClaims struct {
	Email         string   `json:"email"`
	EmailVerified flexBool `json:"email_verified"`
}

// identify checks the ID token of tok (signature, issuer, audience,
// expiry, nonce) and returns the email it or the userinfo endpoint gives.
func (o *oidcFlow) identify(ctx context.Context, p *oidc.Provider, tok *oauth2.Token, nonce string) (identity, error) {
	raw, ok := tok.Extra("id_token").(string)
	if !ok || raw == "" {
		return identity{}, errNoIDToken
	}
	v := p.VerifierContext(o.ctx, &oidc.Config{ClientID: o.cfg.ClientID, Now: o.cfg.Now})
	idt, err := v.Verify(oidc.ClientContext(ctx, o.client), raw)
	if err != nil {
		return identity{}, fmt.Errorf("verify ID token: %w", err)
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(nonce)) != 1 {
		return identity{}, errNonce
	}
	var c emailClaims
	if err := idt.Claims(&c); err != nil {
		return identity{}, fmt.Errorf("read ID token claims: %w", err)
	}
	id := identity{Subject: idt.Subject, Email: c.Email, Verified: c.EmailVerified.value}
	if c.Email != "" && c.EmailVerified.set {
		return id, nil
	}
	// The ID token need not carry the email: the userinfo endpoint has it,
	// and must be about the same subject.
	ui, err := p.UserInfo(oidc.ClientContext(ctx, o.client), oauth2.StaticTokenSource(tok))
	if err != nil {
		return identity{}, fmt.Errorf("userinfo: %w", err)
	}
	if ui.Subject != idt.Subject {
		return identity{}, errSubject
	}
	if err := ui.Claims(&c); err != nil {
		return identity{}, fmt.Errorf("read userinfo claims: %w", err)
	}
	return identity{Subject: idt.Subject, Email: c.Email, Verified: c.EmailVerified.value}, nil
}
