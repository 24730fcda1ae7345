package hub

import (
	"database/sql"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/bikfed/bikfed/internal/mail"
	"github.com/bikfed/bikfed/internal/mailpittest"
	"github.com/bikfed/bikfed/protocol"
)

// mailHub is a hub that sends through a real mailpit, in batches of two
// with no pause.
func mailHub(t *testing.T) (*testHub, *mailpittest.Server) {
	t.Helper()
	mp := mailpittest.Start(t)
	th := mustOpenHub(t, func(c *Config) {
		c.Mail.Host, c.Mail.Port, c.Mail.TLS, c.Mail.From = mp.SMTPHost, mp.SMTPPort, mail.TLSNone, "BIK bulletin <bulletin@hub.example.org>"
		c.Bulletin.BatchSize, c.Bulletin.BatchPause = 2, 0
		c.Bulletin.SubscribeRate, c.Bulletin.SubscribeBurst = 360000, 1000
	})
	return th, mp
}

// unreachableMail configures a mail server nothing listens on: the hub
// takes subscriptions, and their confirmations fail at once.
func unreachableMail(c *Config) {
	c.Mail.Host, c.Mail.Port, c.Mail.TLS, c.Mail.From = "127.0.0.1", 1, mail.TLSNone, "BIK bulletin <bulletin@hub.example.org>"
}

// localPath is link's path and query on the test server.
func (th *testHub) localPath(t *testing.T, link string) string {
	t.Helper()
	u, err := url.Parse(link)
	if err != nil {
		t.Fatal(err)
	}
	return th.url + u.RequestURI()
}

func postForm(t *testing.T, target string, form url.Values, headers ...string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, target, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func getPage(t *testing.T, target string) (int, string) {
	t.Helper()
	resp, err := http.Get(target)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func sampleBulletin(edition string) protocol.Bulletin {
	return protocol.Bulletin{Edition: edition, Published: edition + "-01", Title: "Autumn edition", Language: "en",
		Focus: protocol.BulletinArticle{Title: "Games at home", Body: "Ask **who** they play with."},
		Versions: []protocol.BulletinVersion{{Language: "fr", Title: "Édition d’automne",
			Focus: protocol.BulletinArticle{Title: "Les jeux à la maison", Body: "Demandez avec **qui** ils jouent."}}}}
}

// subscribe subscribes addr in lang through the portal's form and confirms
// it through the link mailed, as a visitor does.
func subscribe(t *testing.T, th *testHub, mp *mailpittest.Server, addr, lang string) {
	t.Helper()
	code, _ := postForm(t, th.url+"/"+lang+"/bulletin/subscribe", url.Values{"email": {addr}, "lang": {lang}}, "Sec-Fetch-Site", "same-origin")
	if code != http.StatusOK {
		t.Fatalf("subscribe %s: %d", addr, code)
	}
	msg := mp.WaitForMessage(t, addr)
	link, err := msg.Link("/bulletin/confirm?t=")
	if err != nil {
		t.Fatal(err)
	}
	if code, body := getPage(t, th.localPath(t, link)); code != http.StatusOK || !strings.Contains(body, `name="t"`) {
		t.Fatalf("confirmation page: %d\n%s", code, body)
	}
	token := strings.SplitN(link, "t=", 2)[1]
	if code, _ := postForm(t, th.url+"/"+lang+"/bulletin/confirm", url.Values{"t": {token}}, "Sec-Fetch-Site", "same-origin"); code != http.StatusOK {
		t.Fatalf("confirm %s: %d", addr, code)
	}
}

func TestHub_BulletinSubscription(t *testing.T) {
	th, mp := mailHub(t)
	ctx := t.Context()

	t.Run("never sent to no one", func(t *testing.T) {
		if _, err := th.SaveBulletin(ctx, sampleBulletin("2026-06"), 0, "test"); err != nil {
			t.Fatal(err)
		}
		if err := th.StartSending(ctx, "2026-06", 0, "test"); !errors.Is(err, ErrNoSubscribers) {
			t.Fatalf("a sending with no confirmed subscriber: %v", err)
		}
		if p, _ := th.BulletinSending(ctx, "2026-06"); p.State != SendingNone {
			t.Fatalf("recorded: %+v", p)
		}
	})

	t.Run("never before its day", func(t *testing.T) {
		if _, err := th.SaveBulletin(ctx, sampleBulletin("2099-03"), 0, "test"); err != nil {
			t.Fatal(err)
		}
		if err := th.StartSending(ctx, "2099-03", 0, "test"); !errors.Is(err, ErrNotPublishedYet) {
			t.Fatalf("a sending before the edition appears: %v", err)
		}
		if p, _ := th.BulletinSending(ctx, "2099-03"); p.State != SendingNone {
			t.Fatalf("recorded: %+v", p)
		}
	})

	t.Run("double opt-in", func(t *testing.T) {
		code, body := postForm(t, th.url+"/fr/bulletin/subscribe", url.Values{"email": {"Ana@Example.org"}, "lang": {"fr"}})
		if code != http.StatusOK || !strings.Contains(body, "Vous avez demandé le bulletin à l’adresse Ana@Example.org.") ||
			!strings.Contains(body, `<a href="/fr/bulletin">Retour au bulletin BIK</a>`) {
			t.Fatalf("subscribe: %d\n%s", code, body)
		}
		msg := mp.WaitForMessage(t, "ana@example.org")
		if !strings.Contains(msg.Subject, "bulletin BIK") || !strings.Contains(msg.Text, "effacée sous 7 jours") {
			t.Fatalf("confirmation in French: %q\n%s", msg.Subject, msg.Text)
		}
		if n, _ := th.Subscribers(ctx); n.Pending != 1 || n.Confirmed != 0 {
			t.Fatalf("before confirming: %+v", n)
		}
		link, err := msg.Link("/fr/bulletin/confirm?t=")
		if err != nil {
			t.Fatal(err)
		}
		// A GET, as a mail scanner's, confirms nothing.
		if code, _ := getPage(t, th.localPath(t, link)); code != http.StatusOK {
			t.Fatalf("confirmation page: %d", code)
		}
		if n, _ := th.Subscribers(ctx); n.Confirmed != 0 {
			t.Fatal("a GET confirmed the subscription")
		}
		token := strings.SplitN(link, "t=", 2)[1]
		if code, body := postForm(t, th.url+"/fr/bulletin/confirm", url.Values{"t": {token}}); code != http.StatusOK || !strings.Contains(body, "abonnement est confirmé") {
			t.Fatalf("confirm: %d\n%s", code, body)
		}
		if n, _ := th.Subscribers(ctx); n.Confirmed != 1 || n.Pending != 0 {
			t.Fatalf("after confirming: %+v", n)
		}
	})

	t.Run("the same answer for a known address", func(t *testing.T) {
		code, _ := postForm(t, th.url+"/en/bulletin/subscribe", url.Values{"email": {"ana@example.org"}, "lang": {"en"}})
		if code != http.StatusOK {
			t.Fatalf("subscribe again: %d", code)
		}
	})

	t.Run("refused input", func(t *testing.T) {
		for _, form := range []url.Values{
			{"email": {"not an address"}, "lang": {"en"}},
			{"email": {"Ana <ana@example.org>"}, "lang": {"en"}},
			{"email": {"ana@example.org"}, "lang": {"tlh"}},
			{"email": {strings.Repeat("a", 250) + "@example.org"}, "lang": {"en"}},
		} {
			if code, _ := postForm(t, th.url+"/en/bulletin/subscribe", form); code != http.StatusBadRequest {
				t.Errorf("%v: %d", form, code)
			}
		}
		if code, _ := postForm(t, th.url+"/en/bulletin/subscribe", url.Values{"email": {strings.Repeat("x", 4000)}}); code != http.StatusBadRequest {
			t.Errorf("an oversized form: %d", code)
		}
	})

	t.Run("a cross-site form is refused", func(t *testing.T) {
		code, _ := postForm(t, th.url+"/en/bulletin/subscribe", url.Values{"email": {"eve@example.org"}, "lang": {"en"}}, "Sec-Fetch-Site", "cross-site")
		if code != http.StatusForbidden {
			t.Fatalf("cross-site subscribe: %d", code)
		}
	})

	t.Run("sent once, unsubscribed in one click", func(t *testing.T) {
		if _, err := th.SaveBulletin(ctx, sampleBulletin("2026-09"), 0, "test"); err != nil {
			t.Fatal(err)
		}
		if err := th.StartSending(ctx, "2026-09", 0, "test"); err != nil {
			t.Fatal(err)
		}
		msg := mp.WaitForMessage(t, "ana@example.org", mailpittest.SubjectContains("Édition d’automne"))
		if msg.ListUnsubscribe.HeaderPost != "List-Unsubscribe=One-Click" || len(msg.ListUnsubscribe.Links) != 1 {
			t.Fatalf("List-Unsubscribe: %+v", msg.ListUnsubscribe)
		}
		if !strings.Contains(msg.HTML, "<strong>qui</strong>") || !strings.Contains(msg.Text, "Les jeux à la maison") {
			t.Fatalf("the French edition is missing:\n%s", msg.Text)
		}
		waitSent(t, th.Hub, "2026-09", 1)
		if err := th.StartSending(ctx, "2026-09", 0, "test"); !errors.Is(err, ErrAlreadySending) {
			t.Fatalf("a second sending: %v", err)
		}
		// A mail provider's one-click POST: no browser headers at all.
		unsub := th.localPath(t, msg.ListUnsubscribe.Links[0])
		if code, _ := postForm(t, unsub, url.Values{"List-Unsubscribe": {"One-Click"}}); code != http.StatusOK {
			t.Fatalf("one-click unsubscribe: %d", code)
		}
		var n int
		th.db.Reader().QueryRowContext(ctx, `SELECT count(*) FROM bulletin_subscribers WHERE email = 'ana@example.org'`).Scan(&n)
		if n != 0 {
			t.Fatal("the address is still in the database")
		}
		if code, _ := postForm(t, unsub, url.Values{"List-Unsubscribe": {"One-Click"}}); code != http.StatusOK {
			t.Fatalf("unsubscribing twice: %d", code)
		}
	})
}

// waitSent waits until edition's sending has finished with sent copies.
func waitSent(t *testing.T, h *Hub, edition string, sent int) SendingProgress {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		p, err := h.BulletinSending(t.Context(), edition)
		if err != nil {
			t.Fatal(err)
		}
		if p.State == SendingFinished {
			if p.Sent != sent {
				t.Fatalf("sending finished with %+v, want %d sent", p, sent)
			}
			return p
		}
		if time.Now().After(deadline) {
			t.Fatalf("sending not finished: %+v", p)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// One client address may ask for a few subscriptions, then is told to
// wait, whatever the addresses.
func TestHub_bulletinRate(t *testing.T) {
	th := mustOpenHub(t, unreachableMail)
	for i := range DefaultBulletinConfig().SubscribeBurst {
		form := url.Values{"email": {string(rune('a'+i)) + "@example.org"}, "lang": {"en"}}
		if code, _ := postForm(t, th.url+"/en/bulletin/subscribe", form); code != http.StatusOK {
			t.Fatalf("subscription %d: %d", i, code)
		}
	}
	code, body := postForm(t, th.url+"/en/bulletin/subscribe", url.Values{"email": {"z@example.org"}, "lang": {"en"}})
	if code != http.StatusTooManyRequests || strings.Contains(body, "z@example.org") {
		t.Fatalf("one too many: %d\n%s", code, body)
	}
}

func TestHub_bulletinLinks(t *testing.T) {
	th := mustOpenHub(t)
	tok := linkToken{purpose: linkConfirm, subscriber: 7, created: 1700000000000, expires: th.now().Add(time.Hour).Unix()}
	s := th.encodeLink(tok)
	if got, err := th.decodeLink(s, linkConfirm); err != nil || got != tok {
		t.Fatalf("decode: %+v, %v", got, err)
	}
	if _, err := th.decodeLink(s, linkUnsub); !errors.Is(err, ErrInvalidBulletinLink) {
		t.Fatalf("a confirmation link used to unsubscribe: %v", err)
	}
	for i := range s {
		c := byte('A')
		if s[i] == 'A' {
			c = 'B'
		}
		if _, err := th.decodeLink(s[:i]+string(c)+s[i+1:], linkConfirm); err == nil {
			t.Fatalf("altered at %d and accepted", i)
		}
	}
	for _, bad := range []string{"", "abc", s + "\n", strings.Repeat("A", 500), s[:len(s)-1]} {
		if _, err := th.decodeLink(bad, linkConfirm); err == nil {
			t.Fatalf("%q accepted", bad)
		}
	}
	th.clock.Advance(2 * time.Hour)
	if _, err := th.decodeLink(s, linkConfirm); !errors.Is(err, ErrInvalidBulletinLink) {
		t.Fatalf("an expired link: %v", err)
	}
	unsub := th.encodeLink(linkToken{purpose: linkUnsub, subscriber: 7, created: 1})
	th.clock.Advance(365 * 24 * time.Hour)
	if _, err := th.decodeLink(unsub, linkUnsub); err != nil {
		t.Fatalf("an unsubscribe link expired: %v", err)
	}
}

func TestValidEmail(t *testing.T) {
	for in, want := range map[string]string{"ana@example.org": "ana@example.org", " Ana@Example.ORG ": "ana@example.org", "a.b+c@sub.example.eu": "a.b+c@sub.example.eu"} {
		if got, err := ValidEmail(in); err != nil || got != want {
			t.Errorf("ValidEmail(%q) = %q, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "ana", "ana@localhost", "Ana <ana@example.org>", "ana@example.org, bob@example.org", "ana @example.org",
		"ana@example.org\r\nBcc: x@example.org", "ana@example.", strings.Repeat("a", 250) + "@example.org"} {
		if _, err := ValidEmail(in); !errors.Is(err, ErrInvalidEmail) {
			t.Errorf("ValidEmail(%q) accepted", in)
		}
	}
}

// After a crash, a sending goes on with the copies still waiting: a copy
// claimed before the crash (the hub may have handed it to the mail server)
// is never sent again and is counted uncertain, and one sent is not resent.
func TestHub_bulletinDeliveryStates(t *testing.T) {
	th, mp := mailHub(t)
	ctx := t.Context()
	th.senderStopped.Store(true) // the test plays the crash itself
	addrs := []string{"a@example.org", "b@example.org", "c@example.org", "d@example.org", "e@example.org"}
	for _, a := range addrs {
		subscribe(t, th, mp, a, "en")
	}
	if err := mp.DeleteAll(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := th.SaveBulletin(ctx, sampleBulletin("2026-12"), 0, "test"); err != nil {
		t.Fatal(err)
	}
	if err := th.StartSending(ctx, "2026-12", 0, "test"); err != nil {
		t.Fatal(err)
	}
	// As a crash leaves it: a sent, b claimed, the rest waiting.
	state := map[string]string{"a@example.org": "sent", "b@example.org": "claimed"}
	err := th.db.WriteTx(ctx, func(tx *sql.Tx) error {
		for addr, s := range state {
			if _, err := tx.ExecContext(ctx, `UPDATE bulletin_deliveries SET state = ? WHERE subscriber = (SELECT id FROM bulletin_subscribers WHERE email = ?)`, s, addr); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	p, err := th.BulletinSending(ctx, "2026-12")
	if err != nil || p.Total != 5 || p.Waiting != 3 || p.Uncertain != 1 || p.Sent != 1 || p.State != SendingStopped {
		t.Fatalf("before resuming: %+v %v", p, err)
	}
	th.ResumeSending()
	p = waitSent(t, th.Hub, "2026-12", 4)
	if p.Uncertain != 1 || p.Waiting != 0 || p.Failed != 0 {
		t.Fatalf("after resuming: %+v", p)
	}
	if _, err := mp.WaitFor(ctx, 3); err != nil {
		t.Fatal(err)
	}
	for _, a := range addrs {
		got, err := mp.MessagesTo(ctx, a)
		if err != nil {
			t.Fatal(err)
		}
		want := 1
		if state[a] != "" {
			want = 0
		}
		if len(got) != want {
			t.Errorf("%s got %d copies after the restart, want %d", a, len(got), want)
		}
	}
}

// FuzzBulletinLink feeds arbitrary tokens to the decoder of the links in
// the bulletin's mails, which anyone can send: it never panics, accepts
// only what the hub signed for that purpose, and a token it accepts
// encodes back to itself.
func FuzzBulletinLink(f *testing.F) {
	th := mustOpenHub(f)
	f.Add(th.encodeLink(linkToken{purpose: linkConfirm, subscriber: 1, created: 1700000000000, expires: th.now().Add(time.Hour).Unix()}), true)
	f.Add(th.encodeLink(linkToken{purpose: linkUnsub, subscriber: 9, created: 1}), false)
	f.Add("", false)
	f.Add("AAAA", true)
	f.Add(strings.Repeat("_", 56), false)
	f.Fuzz(func(t *testing.T, s string, confirm bool) {
		purpose := byte(linkUnsub)
		if confirm {
			purpose = linkConfirm
		}
		tok, err := th.decodeLink(s, purpose)
		if err != nil {
			if !errors.Is(err, ErrInvalidBulletinLink) {
				t.Fatalf("%q: %v", s, err)
			}
			return
		}
		if tok.purpose != purpose || th.encodeLink(tok) != s {
			t.Fatalf("%q accepted as %+v", s, tok)
		}
	})
}

// A subscription not confirmed within the link's life is erased, without
// anyone asking again.
func TestHub_bulletinUnconfirmedErased(t *testing.T) {
	th := mustOpenHub(t, unreachableMail)
	if code, _ := postForm(t, th.url+"/en/bulletin/subscribe", url.Values{"email": {"late@example.org"}, "lang": {"en"}}); code != http.StatusOK {
		t.Fatalf("subscribe: %d", code)
	}
	th.purgeUnconfirmed(t.Context(), th.log)
	if n, _ := th.Subscribers(t.Context()); n.Pending != 1 {
		t.Fatalf("erased before its time: %+v", n)
	}
	th.clock.Advance(DefaultBulletinConfig().ConfirmTTL + time.Minute)
	th.purgeUnconfirmed(t.Context(), th.log)
	if n, _ := th.Subscribers(t.Context()); n.Pending != 0 {
		t.Fatalf("still there after the link's life: %+v", n)
	}
}

// Without a mail server no confirmation could go out: the portal shows a
// notice in place of the form, and a POST keeps no address.
func TestHub_bulletinWithoutMail(t *testing.T) {
	th := mustOpenHub(t)
	code, body := getPage(t, th.url+"/fr/bulletin")
	if code != http.StatusOK || strings.Contains(body, `name="email"`) || !strings.Contains(body, "L’abonnement par e-mail n’est pas ouvert sur ce portail") {
		t.Fatalf("archive without mail: %d\n%s", code, body)
	}
	code, body = postForm(t, th.url+"/fr/bulletin/subscribe", url.Values{"email": {"ana@example.org"}, "lang": {"fr"}})
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "n’est pas ouvert sur ce portail") || strings.Contains(body, `name="email"`) {
		t.Fatalf("subscribe without mail: %d\n%s", code, body)
	}
	if n, _ := th.Subscribers(t.Context()); n.Pending != 0 || n.Confirmed != 0 {
		t.Fatalf("an address was kept: %+v", n)
	}
}

// The page saying to check the inbox answers the form; opened by itself
// it leads to the bulletin, in the visitor's language.
func TestHub_bulletinCheckPage(t *testing.T) {
	th := mustOpenHub(t, unreachableMail)
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for path, want := range map[string]string{"/fr/bulletin/subscribe": "/fr/bulletin", "/bulletin/subscribe": "/bulletin"} {
		resp, err := client.Get(th.url + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != want {
			t.Errorf("GET %s: %d to %q, want %s", path, resp.StatusCode, resp.Header.Get("Location"), want)
		}
	}
}
