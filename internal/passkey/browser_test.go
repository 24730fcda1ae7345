package passkey

import (
	"context"
	"fmt"
	"html/template"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdpnetwork "github.com/chromedp/cdproto/network"
	cdpwebauthn "github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"

	"github.com/bikfed/bikfed/internal/locale"
	"github.com/bikfed/bikfed/internal/web"
)

// testPage holds the passkey forms as a page would: hidden, each with its
// own status line, under the strict policy plus the script's own origin.
var testPage = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Passkeys</title></head><body>
<p id="who">{{.Who}}</p>
<form id="add" method="post" action="{{.Prefix}}/register/finish" data-passkey="register" data-passkey-begin="{{.Prefix}}/register/begin" data-passkey-failed="No passkey was made." hidden>
<input type="hidden" name="form_token" value="{{.Token}}">
<label for="name">Name</label><input id="name" name="name" value="virtual key">
<button type="submit">Add a passkey</button>
<p data-passkey-status role="status"></p>
</form>
<form id="signin" method="post" action="{{.Prefix}}/login/finish" data-passkey="login" data-passkey-begin="{{.Prefix}}/login/begin" data-passkey-failed="No passkey was given." hidden>
<input type="hidden" name="next" value="/page?after=signin">
<button type="submit">Sign in with a passkey</button>
<p data-passkey-status role="status"></p>
</form>
<script src="{{.Script}}"></script>
</body></html>`))

const browserCSP = "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self'; " +
	"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

func findChromium(t *testing.T) string {
	path := os.Getenv("BIKFED_CHROMIUM")
	if path == "" {
		path = "/usr/bin/chromium"
	}
	if _, err := exec.LookPath(path); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("chromium (%s) is missing: run make browser", path)
		}
		t.Skipf("chromium (%s) is missing: run make browser", path)
	}
	return path
}

// TestScript_chromium runs the script in Chromium against its virtual
// authenticator: a signed-in member adds a passkey, then a browser with no
// session signs in with it alone, under a policy that allows no inline
// script.
func TestScript_chromium(t *testing.T) {
	chromium := findChromium(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	// localhost is a secure context over plain http and a valid RP ID.
	origin := "http://localhost:" + strconv.Itoa(port)

	f := newFixture(t)
	f.cfg.RPID, f.cfg.Origins = "localhost", []string{origin}
	svc, err := New(f.db, f.cfg)
	if err != nil {
		t.Fatal(err)
	}
	bundle, err := locale.Load()
	if err != nil {
		t.Fatal(err)
	}
	wcfg := web.DefaultConfig()
	wcfg.Product, wcfg.Log = "Test SIC", slog.New(slog.DiscardHandler)
	site, err := web.NewSite(wcfg, bundle, f.accounts)
	if err != nil {
		t.Fatal(err)
	}
	h, err := NewHandler(svc, site, DefaultHandlerConfig())
	if err != nil {
		t.Fatal(err)
	}
	m := f.member(t, "ana@sic.example")

	mux := http.NewServeMux()
	mux.Handle("/signin/passkey/", h)
	mux.HandleFunc("GET /page", func(w http.ResponseWriter, r *http.Request) {
		who := "nobody"
		if m, ok := web.Member(r); ok {
			who = "member " + strconv.FormatInt(m.ID, 10)
		}
		w.Header().Set("Content-Security-Policy", browserCSP)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		testPage.Execute(w, map[string]string{"Who": who, "Prefix": "/signin/passkey", "Token": site.FormToken(r), "Script": h.ScriptURL()})
	})
	mux.HandleFunc("GET /as-ana", func(w http.ResponseWriter, r *http.Request) {
		tok, _, err := f.accounts.StartSession(r.Context(), m.ID, r.UserAgent(), "")
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		http.SetCookie(w, f.accounts.Cookie(tok, false))
		http.Redirect(w, r, "/page", http.StatusSeeOther)
	})
	srv := httptest.NewUnstartedServer(site.Wrap(mux))
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)

	actx, cancelAlloc := chromedp.NewExecAllocator(t.Context(),
		chromedp.ExecPath(chromium), chromedp.Flag("headless", true), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck, chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true), chromedp.UserDataDir(t.TempDir()))
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	step := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		if err := chromedp.Do(sctx, steps...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	text := func(sel string) string {
		t.Helper()
		sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		s, err := chromedp.Run(sctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("read %s: %v", sel, err)
		}
		return s
	}
	call := func(what string, fn func(context.Context) error) chromedp.Action[chromedp.Void] {
		return func(ctx context.Context, _ *chromedp.Target) (chromedp.Void, error) {
			if err := fn(ctx); err != nil {
				return chromedp.Void{}, fmt.Errorf("%s: %w", what, err)
			}
			return chromedp.Void{}, nil
		}
	}

	step("add a virtual authenticator", call("enable", func(ctx context.Context) error {
		if _, err := chromedp.Call(ctx, cdpwebauthn.Enable, cdpwebauthn.EnableParams{}); err != nil {
			return err
		}
		_, err := chromedp.Call(ctx, cdpwebauthn.AddVirtualAuthenticator, cdpwebauthn.AddVirtualAuthenticatorParams{
			Options: &cdpwebauthn.VirtualAuthenticatorOptions{Protocol: cdpwebauthn.AuthenticatorProtocolCtap2,
				Ctap2version: cdpwebauthn.Ctap2versionCtap21, Transport: cdpwebauthn.AuthenticatorTransportInternal,
				HasResidentKey: true, HasUserVerification: true, IsUserVerified: true, AutomaticPresenceSimulation: true}})
		return err
	}))

	step("sign in with a password and open the page", chromedp.Navigate(origin+"/as-ana"),
		chromedp.WaitVisible(chromedp.CSS("#add button")))
	if who := text("#who"); who != "member "+strconv.FormatInt(m.ID, 10) {
		t.Fatalf("page shows %q", who)
	}
	step("add a passkey", chromedp.Click(chromedp.CSS("#add button")))
	waitFor(t, "the passkey to be kept", func() bool {
		pks, err := svc.List(t.Context(), m.ID)
		return err == nil && len(pks) == 1 && pks[0].Name == "virtual key"
	})

	// The script reloads the page once the passkey is kept; a navigation
	// started while that reload is under way is aborted, so it is tried
	// again until the reload has finished.
	for try := 1; ; try++ {
		sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err := chromedp.Do(sctx, call("clear cookies", func(ctx context.Context) error {
			_, err := chromedp.Call(ctx, cdpnetwork.ClearBrowserCookies, cdp.Empty{})
			return err
		}), chromedp.Navigate(origin+"/page"), chromedp.WaitVisible(chromedp.CSS("#signin button")))
		cancel()
		if err == nil {
			break
		}
		if try == 5 || !strings.Contains(err.Error(), "ERR_ABORTED") {
			t.Fatalf("forget the session: %v", err)
		}
	}
	if who := text("#who"); who != "nobody" {
		t.Fatalf("after clearing cookies the page shows %q", who)
	}
	step("sign in with the passkey", chromedp.Click(chromedp.CSS("#signin button")))
	waitFor(t, "the page after sign-in", func() bool {
		sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		loc, err := chromedp.Run(sctx, chromedp.Location())
		return err == nil && strings.HasSuffix(loc, "/page?after=signin")
	})
	if who := text("#who"); who != "member "+strconv.FormatInt(m.ID, 10) {
		t.Fatalf("after passkey sign-in the page shows %q", who)
	}
	pks, _ := svc.List(t.Context(), m.ID)
	if len(pks) != 1 || pks[0].LastUsedAt.IsZero() {
		t.Fatalf("passkeys after sign-in: %+v", pks)
	}
}

// waitFor retries cond until it holds or 30 seconds pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
