package node

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bikfed/bikfed/internal/account"
	"github.com/bikfed/bikfed/internal/mail"
	"github.com/bikfed/bikfed/protocol"
)

func TestReadableSpaces(t *testing.T) {
	staff := []string{"awareness", "helplines", "youth-participation", "hotlines", "blog"}
	youth := []string{"youth", "youth:fi"}
	for _, tc := range []struct {
		name   string
		roles  []string
		status account.Status
		want   []string
	}{
		{"staff", []string{RoleStaff}, account.StatusActive, staff},
		{"admin", []string{RoleAdmin}, account.StatusActive, staff},
		{"editor alone", []string{RoleEditor}, account.StatusActive, nil},
		{"editor and staff", []string{RoleEditor, RoleStaff}, account.StatusActive, staff},
		{"youth", []string{RoleYouth}, account.StatusActive, youth},
		{"youth coordinator", []string{RoleYouthCoordinator}, account.StatusActive, append(slices.Clone(staff), youth...)},
		{"staff and youth coordinator", []string{RoleStaff, RoleYouthCoordinator}, account.StatusActive, append(slices.Clone(staff), youth...)},
		{"disabled staff", []string{RoleStaff}, account.StatusDisabled, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := ReadableSpaces(account.Member{Roles: tc.roles, Status: tc.status}, "fi")
			if !slices.Equal(got, tc.want) {
				t.Errorf("ReadableSpaces = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestDigestDay(t *testing.T) {
	hel, err := time.LoadLocation("Europe/Helsinki")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		at   string // local time in Helsinki
		hour int
		want string
	}{
		{"2026-03-10T06:59:59", 7, "2026-03-09"},
		{"2026-03-10T07:00:00", 7, "2026-03-10"},
		{"2026-03-10T23:30:00", 7, "2026-03-10"},
		{"2026-03-01T00:10:00", 0, "2026-03-01"},
		{"2026-03-01T00:10:00", 7, "2026-02-28"},
		// The night clocks go forward (29 March 2026, 03:00 → 04:00).
		{"2026-03-29T04:30:00", 7, "2026-03-28"},
		{"2026-03-29T07:00:00", 7, "2026-03-29"},
	} {
		at, err := time.ParseInLocation("2006-01-02T15:04:05", tc.at, hel)
		if err != nil {
			t.Fatal(err)
		}
		if got := digestDay(at.UTC(), hel, tc.hour); got != tc.want {
			t.Errorf("digestDay(%s, %d) = %s, want %s", tc.at, tc.hour, got, tc.want)
		}
	}
}

func TestUnsubscribeToken_Decode(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	for _, tok := range []UnsubscribeToken{
		{Member: 7, Created: 1767225600000, Digest: true},
		{Member: 1 << 40, Created: 1, Space: "helplines"},
		{Member: 3, Created: 99, Space: "youth:fi"},
	} {
		s := encodeToken(key, tok)
		got, err := decodeToken(key, s)
		if err != nil || got != tok {
			t.Errorf("decode(encode(%+v)) = %+v, %v", tok, got, err)
		}
		if _, err := decodeToken([]byte("another key, another node's links"), s); !errors.Is(err, ErrInvalidUnsubscribe) {
			t.Errorf("a token under another key: %v", err)
		}
		// Every changed character makes a token invalid.
		for i := range s {
			b := []byte(s)
			b[i] ^= 1
			if _, err := decodeToken(key, string(b)); err == nil {
				t.Fatalf("token %q with character %d changed was accepted", s, i)
			}
		}
	}
	for _, bad := range []struct {
		name string
		tok  UnsubscribeToken
	}{
		{"digest naming a space", UnsubscribeToken{Member: 1, Digest: true, Space: "helplines"}},
		{"every post without a space", UnsubscribeToken{Member: 1}},
		{"not a space", UnsubscribeToken{Member: 1, Space: "secret"}},
	} {
		if _, err := decodeToken(key, encodeToken(key, bad.tok)); !errors.Is(err, ErrInvalidUnsubscribe) {
			t.Errorf("%s: %v", bad.name, err)
		}
	}
	for _, s := range []string{"", "x", strings.Repeat("A", 300), "AAAA.AAAA", "====", "%00"} {
		if _, err := decodeToken(key, s); !errors.Is(err, ErrInvalidUnsubscribe) {
			t.Errorf("decode(%q) = %v", s, err)
		}
	}
}

// FuzzUnsubscribeToken: no input makes the decoder panic or accept a token
// that does not re-encode to itself, so a link is valid only as signed.
func FuzzUnsubscribeToken(f *testing.F) {
	key := []byte("0123456789abcdef0123456789abcdef")
	f.Add(encodeToken(key, UnsubscribeToken{Member: 7, Created: 1, Digest: true}))
	f.Add(encodeToken(key, UnsubscribeToken{Member: 8, Created: 2, Space: "helplines"}))
	f.Add("")
	f.Add("AQAAAAAAAAAHAAAAAAAAAAFk")
	f.Add("AQAAAAAAAAAIA\nAAAAAAAAAJwaGVscGxpbmVzOzcNNVsdX0-z2hoVWmwfqw")
	f.Fuzz(func(t *testing.T, s string) {
		tok, err := decodeToken(key, s)
		if err != nil {
			if !errors.Is(err, ErrInvalidUnsubscribe) {
				t.Fatalf("decode(%q): unexpected error %v", s, err)
			}
			return
		}
		if again := encodeToken(key, tok); again != s {
			t.Fatalf("decode(%q) = %+v, which encodes as %q", s, tok, again)
		}
	})
}

// sentMail records what a node sends, each message checked as SMTP would.
type sentMail struct {
	mu   sync.Mutex
	msgs []mail.Message
	fail error
}

func (s *sentMail) Send(_ context.Context, m mail.Message) error {
	if _, _, err := mail.Build(m, "sic@fi.example"); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return s.fail
	}
	s.msgs = append(s.msgs, m)
	return nil
}

func (s *sentMail) to(addr string) []mail.Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []mail.Message
	for _, m := range s.msgs {
		if slices.Contains(m.To, addr) {
			out = append(out, m)
		}
	}
	return out
}

func (s *sentMail) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.msgs)
}

// notifyFixture is a node whose mail goes to a sentMail, with a clock the
// test moves.
type notifyFixture struct {
	t    *testing.T
	n    *Node
	sent *sentMail
	mu   sync.Mutex
	now  time.Time
}

func newNotifyFixture(t *testing.T) *notifyFixture {
	t.Helper()
	f := &notifyFixture{t: t, sent: &sentMail{}, now: time.Now().UTC()}
	f.n = newTestNode(t, newFakeHub(t), "fi")
	f.n.mailer = f.sent
	f.n.cfg.Clock = f.clock
	f.n.cfg.Notify.DigestEvery = time.Hour
	return f
}

func (f *notifyFixture) clock() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

func (f *notifyFixture) advance(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = f.now.Add(d)
}

// member adds an active member.
func (f *notifyFixture) member(email, name, pseudonym string, roles ...string) account.Member {
	f.t.Helper()
	ctx := f.t.Context()
	_, tok, err := f.n.Accounts().Add(ctx, "cli", account.NewMember{Email: email, Name: name, Roles: roles, Pseudonym: pseudonym})
	if err != nil {
		f.t.Fatal(err)
	}
	m, err := f.n.Accounts().Accept(ctx, tok, "correct horse battery staple 7", "")
	if err != nil {
		f.t.Fatal(err)
	}
	return m
}

func (f *notifyFixture) choose(m account.Member, modes map[string]NotifyMode) {
	f.t.Helper()
	if err := f.n.SetNotifySettings(f.t.Context(), m, NotifySettings{Lang: "en", Modes: modes}); err != nil {
		f.t.Fatal(err)
	}
}

func (f *notifyFixture) post(space, title, text string, a protocol.Author) string {
	f.t.Helper()
	vis := protocol.VisibilityCommunity
	if protocol.IsYouthSpace(space) {
		vis = protocol.VisibilityYouth
	}
	e, err := f.n.Create(f.t.Context(), draftOf(f.t, protocol.KindPost, vis, protocol.Post{Space: space, Format: "thread",
		Title: title, Text: text, Language: "en", Author: a}))
	if err != nil {
		f.t.Fatal(err)
	}
	f.authored(e.ID, a)
	return e.ID
}

// authored records the member the author names, if any, as the item's
// writer, as CreateAs and ApproveHeld do.
func (f *notifyFixture) authored(id string, a protocol.Author) {
	f.t.Helper()
	members, err := f.n.Accounts().List(f.t.Context())
	if err != nil {
		f.t.Fatal(err)
	}
	for _, m := range members {
		if a.Pseudonym != "" && a.Pseudonym == m.Pseudonym || a.Pseudonym == "" && strings.HasPrefix(a.Name, m.Name) {
			if _, err := f.n.db.Writer().Exec(`INSERT INTO authorship (entity_id, member_id) VALUES (?, ?)`, id, m.ID); err != nil {
				f.t.Fatal(err)
			}
			return
		}
	}
}

func (f *notifyFixture) comment(post, text string, vis protocol.Visibility, a protocol.Author) string {
	f.t.Helper()
	e, err := f.n.Create(f.t.Context(), draftOf(f.t, protocol.KindComment, vis, protocol.Comment{Post: post, Text: text, Language: "en", Author: a}))
	if err != nil {
		f.t.Fatal(err)
	}
	f.authored(e.ID, a)
	return e.ID
}

// round runs the sender once, as the loop does.
func (f *notifyFixture) round() bool {
	f.t.Helper()
	more, err := f.n.notifyRound(f.t.Context())
	if err != nil {
		f.t.Fatal(err)
	}
	return more
}

func header(m mail.Message, name string) string {
	for _, h := range m.Headers {
		if h.Name == name {
			return h.Value
		}
	}
	return ""
}

func TestNode_NotifySettings(t *testing.T) {
	f := newNotifyFixture(t)
	ctx := t.Context()
	staff := f.member("aino@fi.example", "Aino", "", RoleStaff)
	youth := f.member("fi-veera@fi.example", "Veera", "fi-veera", RoleYouth)

	got, err := f.n.NotifySettings(ctx, staff)
	if err != nil {
		t.Fatal(err)
	}
	if got.Lang != "" || len(got.Modes) != 5 || got.Modes["helplines"] != NotifyNone || got.Modes["youth"] != "" {
		t.Fatalf("a new member's settings: %+v, want none for the five staff spaces", got)
	}
	f.choose(staff, map[string]NotifyMode{"helplines": NotifyDigest, "blog": NotifyPost})
	got, _ = f.n.NotifySettings(ctx, staff)
	if got.Lang != "en" || got.Modes["helplines"] != NotifyDigest || got.Modes["blog"] != NotifyPost || got.Modes["hotlines"] != NotifyNone {
		t.Fatalf("after choosing: %+v", got)
	}
	// A space left out becomes none.
	if err := f.n.SetNotifySettings(ctx, staff, NotifySettings{Lang: "fi", Modes: map[string]NotifyMode{"blog": NotifyDigest}}); err != nil {
		t.Fatal(err)
	}
	got, _ = f.n.NotifySettings(ctx, staff)
	if got.Lang != "fi" || got.Modes["helplines"] != NotifyNone || got.Modes["blog"] != NotifyDigest {
		t.Fatalf("after choosing again: %+v", got)
	}

	for _, tc := range []struct {
		name   string
		member account.Member
		s      NotifySettings
		want   error
	}{
		{"youth choosing a staff space", youth, NotifySettings{Lang: "en", Modes: map[string]NotifyMode{"helplines": NotifyPost}}, ErrNotReadable},
		{"staff choosing the youth space", staff, NotifySettings{Lang: "en", Modes: map[string]NotifyMode{"youth": NotifyPost}}, ErrNotReadable},
		{"another SIC's youth space", youth, NotifySettings{Lang: "en", Modes: map[string]NotifyMode{"youth:pt": NotifyPost}}, ErrNotReadable},
		{"unknown choice", staff, NotifySettings{Lang: "en", Modes: map[string]NotifyMode{"blog": "hourly"}}, ErrInvalidNotifyMode},
		{"no language", staff, NotifySettings{Modes: map[string]NotifyMode{"blog": NotifyPost}}, ErrInvalidLanguage},
		{"not a language", staff, NotifySettings{Lang: "<en>", Modes: map[string]NotifyMode{}}, ErrInvalidLanguage},
	} {
		if err := f.n.SetNotifySettings(ctx, tc.member, tc.s); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	if err := f.n.SetNotifySettings(ctx, youth, NotifySettings{Lang: "fi", Modes: map[string]NotifyMode{"youth:fi": NotifyPost}}); err != nil {
		t.Errorf("youth choosing their own youth space: %v", err)
	}
}

func TestNode_NotifyEveryPost(t *testing.T) {
	f := newNotifyFixture(t)
	ctx := t.Context()
	aino := f.member("aino@fi.example", "Aino Virtanen", "", RoleStaff)
	mikko := f.member("mikko@fi.example", "Mikko", "", RoleStaff)
	veera := f.member("fi-veera@fi.example", "Veera", "fi-veera", RoleYouth)
	f.choose(aino, map[string]NotifyMode{"helplines": NotifyPost})
	f.choose(mikko, map[string]NotifyMode{"helplines": NotifyPost})
	f.choose(veera, map[string]NotifyMode{"youth": NotifyPost})

	post := f.post("helplines", "Deepfake nudes", "How do **your** helplines answer <b>this</b>?", protocol.Author{Name: "Aino Virtanen, Pelastakaa Lapset", SIC: "fi"})
	f.post("hotlines", "Not followed", "Nobody chose hotlines.", protocol.Author{Name: "Mikko", SIC: "fi"})
	f.post("youth", "Age checks", "What do you think?", protocol.Author{Pseudonym: "fi-veera"})
	f.round()

	if got := f.sent.to("aino@fi.example"); len(got) != 0 {
		t.Errorf("the author was told of her own post: %+v", got)
	}
	if got := f.sent.to("fi-veera@fi.example"); len(got) != 0 {
		t.Errorf("the young author was told of her own post: %+v", got)
	}
	got := f.sent.to("mikko@fi.example")
	if len(got) != 1 {
		t.Fatalf("mikko got %d messages, want 1: %+v", len(got), got)
	}
	m := got[0]
	link := "/community/helplines/" + post
	if len(m.To) != 1 || !strings.Contains(m.Subject, "Deepfake nudes") || !strings.Contains(m.Text, link) ||
		!strings.Contains(m.Text, "How do your helplines answer <b>this</b>?") || !strings.Contains(m.Text, "Aino Virtanen, Pelastakaa Lapset (FI)") {
		t.Errorf("the message: to %v, subject %q\n%s", m.To, m.Subject, m.Text)
	}
	if strings.Contains(m.HTML, "<b>this</b>") || !strings.Contains(m.HTML, "&lt;b&gt;this&lt;/b&gt;") {
		t.Errorf("the HTML part carries the post's markup:\n%s", m.HTML)
	}
	unsub := strings.Trim(header(m, "List-Unsubscribe"), "<>")
	if !strings.Contains(unsub, PathUnsubscribe) || header(m, "List-Unsubscribe-Post") != "List-Unsubscribe=One-Click" ||
		!strings.Contains(m.Text, unsub) || !strings.Contains(m.HTML, unsub) {
		t.Errorf("unsubscribe headers %q, %q; link in the body: %v", header(m, "List-Unsubscribe"), header(m, "List-Unsubscribe-Post"), strings.Contains(m.Text, unsub))
	}

	// A restart plans nothing again.
	f.round()
	if f.sent.count() != 1 {
		t.Fatalf("a second round sent more: %d messages", f.sent.count())
	}

	// A reply reaches the subscriber who did not write it; a hidden reply
	// and a post in a space he does not follow do not.
	f.comment(post, "We refer to the police.", protocol.VisibilityCommunity, protocol.Author{Name: "Aino Virtanen, Pelastakaa Lapset", SIC: "fi"})
	hidden := f.comment(post, "SECRET-HIDDEN-REPLY", protocol.VisibilityCommunity, protocol.Author{Name: "Someone", SIC: "fi"})
	if _, err := f.n.db.Writer().ExecContext(ctx, `UPDATE community_items SET hidden = 1 WHERE id = ?`, hidden); err != nil {
		t.Fatal(err)
	}
	f.round()
	got = f.sent.to("mikko@fi.example")
	if len(got) != 2 || !strings.Contains(got[1].Text, "We refer to the police.") || !strings.Contains(got[1].Subject, "reply") {
		t.Fatalf("mikko after the replies: %d messages %+v", len(got), got)
	}
	for _, m := range f.sent.msgs {
		if strings.Contains(m.Text, "SECRET-HIDDEN-REPLY") {
			t.Fatalf("a hidden reply went out: %+v", m)
		}
	}

	// One-click unsubscription: checking changes nothing, unsubscribing
	// makes the space none, and no more mail comes from it.
	token := strings.TrimPrefix(unsub, f.n.PublicURL()+PathUnsubscribe)
	u, err := f.n.CheckUnsubscribe(ctx, token)
	if err != nil || u.Member.ID != mikko.ID || u.Digest || !slices.Equal(u.Spaces, []string{"helplines"}) {
		t.Fatalf("CheckUnsubscribe = %+v, %v", u, err)
	}
	if s, _ := f.n.NotifySettings(ctx, mikko); s.Modes["helplines"] != NotifyPost {
		t.Fatalf("checking the link changed the choice: %+v", s)
	}
	if _, err := f.n.Unsubscribe(ctx, token); err != nil {
		t.Fatal(err)
	}
	if s, _ := f.n.NotifySettings(ctx, mikko); s.Modes["helplines"] != NotifyNone {
		t.Fatalf("after unsubscribing: %+v", s)
	}
	if _, err := f.n.Unsubscribe(ctx, token); err != nil {
		t.Errorf("unsubscribing twice: %v", err)
	}
	f.post("helplines", "After unsubscribing", "Nothing for Mikko.", protocol.Author{Name: "Aino Virtanen", SIC: "fi"})
	f.round()
	if got := f.sent.to("mikko@fi.example"); len(got) != 2 {
		t.Errorf("mail after unsubscribing: %d messages", len(got))
	}
	if _, err := f.n.Unsubscribe(ctx, token+"x"); !errors.Is(err, ErrInvalidUnsubscribe) {
		t.Errorf("a changed token: %v", err)
	}
	// A removed member's links stop working.
	if err := f.n.Accounts().Remove(ctx, "cli", mikko.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.n.CheckUnsubscribe(ctx, token); !errors.Is(err, ErrInvalidUnsubscribe) {
		t.Errorf("a removed member's link: %v", err)
	}
	if k := count(t, f.n.db.Reader(), `SELECT count(*) FROM notify_prefs WHERE member_id = ?`, mikko.ID); k != 0 {
		t.Errorf("a removed member keeps %d choices", k)
	}
}

func TestNode_NotifyDigest(t *testing.T) {
	f := newNotifyFixture(t)
	ctx := t.Context()
	liisa := f.member("liisa@fi.example", "Liisa", "", RoleStaff, RoleYouthCoordinator)
	old := f.post("helplines", "Before the digest period", "An older thread.", protocol.Author{Name: "Mikko", SIC: "fi"})
	f.choose(liisa, map[string]NotifyMode{"helplines": NotifyDigest, "youth": NotifyDigest})

	// Nothing before the period ends.
	f.post("helplines", "Early in the period", "A thread.", protocol.Author{Name: "Mikko", SIC: "fi"})
	f.round()
	if f.sent.count() != 0 {
		t.Fatalf("a digest before its time: %+v", f.sent.msgs)
	}
	f.post("helplines", "Sextortion wave", "Teenagers report **many** messages.", protocol.Author{Name: "Mikko", SIC: "fi"})
	f.comment(old, "A reply to the older thread.", protocol.VisibilityCommunity, protocol.Author{Name: "Mikko", SIC: "fi"})
	f.post("youth", "Kysely", "Mitä mieltä olette?", protocol.Author{Pseudonym: "fi-veera"})
	f.post("blog", "Not in the digest", "Liisa does not follow the blog.", protocol.Author{Name: "Mikko", SIC: "fi"})
	f.post("helplines", "Liisa's own", "Her own thread.", protocol.Author{Name: "Liisa", SIC: "fi"})
	f.advance(time.Hour)
	f.round()
	got := f.sent.to("liisa@fi.example")
	if len(got) != 1 {
		t.Fatalf("%d digests, want 1", len(got))
	}
	d := got[0]
	for _, want := range []string{"Helplines", "BIK Youth (Europe)", "Sextortion wave", "Teenagers report many messages.", "Kysely",
		"1 new reply to Before the digest period", "Latest reply by Mikko (FI)", "Early in the period", "fi-veera"} {
		if !strings.Contains(d.Text, want) {
			t.Errorf("the digest lacks %q:\n%s", want, d.Text)
		}
	}
	for _, not := range []string{"Not in the digest", "Her own thread"} {
		if strings.Contains(d.Text, not) {
			t.Errorf("the digest has %q:\n%s", not, d.Text)
		}
	}
	if !strings.Contains(d.Subject, "4 new posts and replies") {
		t.Errorf("subject %q", d.Subject)
	}
	unsub := strings.Trim(header(d, "List-Unsubscribe"), "<>")
	token := strings.TrimPrefix(unsub, f.n.PublicURL()+PathUnsubscribe)

	// The next period with nothing new sends nothing.
	f.advance(time.Hour)
	f.round()
	if got := f.sent.to("liisa@fi.example"); len(got) != 1 {
		t.Fatalf("an empty digest went out: %d", len(got))
	}
	u, err := f.n.Unsubscribe(ctx, token)
	if err != nil || !u.Digest || !slices.Equal(u.Spaces, []string{"helplines", "youth"}) {
		t.Fatalf("Unsubscribe = %+v, %v", u, err)
	}
	f.post("helplines", "After the unsubscription", "Not for Liisa.", protocol.Author{Name: "Mikko", SIC: "fi"})
	f.advance(time.Hour)
	f.round()
	if got := f.sent.to("liisa@fi.example"); len(got) != 1 {
		t.Fatalf("a digest after unsubscribing: %d", len(got))
	}
}

func TestNode_NotifyBatches(t *testing.T) {
	f := newNotifyFixture(t)
	f.n.cfg.Notify.Batch = 50
	aino := f.member("aino@fi.example", "Aino", "", RoleStaff)
	f.choose(aino, map[string]NotifyMode{"awareness": NotifyPost})
	for i := range 120 {
		f.post("awareness", fmt.Sprintf("Campaign %d", i), "Safer Internet Day plans.", protocol.Author{Name: "Mikko", SIC: "fi"})
	}
	for i, want := range []struct {
		sent int
		more bool
	}{{50, true}, {100, true}, {120, false}} {
		more := f.round()
		if f.sent.count() != want.sent || more != want.more {
			t.Fatalf("round %d: %d sent, more %v; want %d, %v", i+1, f.sent.count(), more, want.sent, want.more)
		}
	}
	// Each message has one recipient, oldest post first.
	if m := f.sent.msgs[0]; len(m.To) != 1 || !strings.Contains(m.Subject, "Campaign 0") {
		t.Errorf("first message: %v %q", m.To, m.Subject)
	}

	// A mail server that refuses keeps the message planned for the next
	// round; planned messages survive a restart and go out once.
	f.sent.fail = errors.New("451 try later")
	f.post("awareness", "While the server is down", "Later.", protocol.Author{Name: "Mikko", SIC: "fi"})
	if _, err := f.n.notifyRound(t.Context()); err == nil {
		t.Fatal("a refused message was not reported")
	}
	f.n.Close()
	n := openNode(t, f.n.cfg.DataDir)
	n.mailer, n.cfg.Clock = f.sent, f.clock
	f.n = n
	f.sent.fail = nil
	f.round()
	f.round()
	if got := f.sent.to("aino@fi.example"); len(got) != 121 || !strings.Contains(got[120].Subject, "While the server is down") {
		t.Fatalf("after the restart: %d messages", len(got))
	}
}

func TestNode_NotifyLinks(t *testing.T) {
	f := newNotifyFixture(t)
	m := f.member("aino@fi.example", "Aino", "", RoleStaff)
	link, err := f.n.UnsubscribeLink(t.Context(), UnsubscribeToken{Member: m.ID, Created: m.CreatedAt.UnixMilli(), Digest: true})
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(link)
	if err != nil || !strings.HasPrefix(u.Path, PathUnsubscribe) || u.RawQuery != "" {
		t.Fatalf("link %q", link)
	}
	// A member made later with a reused id does not inherit the link.
	if _, err := f.n.CheckUnsubscribe(t.Context(), strings.TrimPrefix(u.Path, PathUnsubscribe)); err != nil {
		t.Fatal(err)
	}
	key, _ := f.n.notifyKey(t.Context())
	forged := encodeToken(key, UnsubscribeToken{Member: m.ID, Created: m.CreatedAt.UnixMilli() + 1, Digest: true})
	if _, err := f.n.CheckUnsubscribe(t.Context(), forged); !errors.Is(err, ErrInvalidUnsubscribe) {
		t.Errorf("a link for another account with the same id: %v", err)
	}
}

func TestNotifyConfig_Validate(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(*NotifyConfig)
		field  string // "" when valid
	}{
		{"default", func(*NotifyConfig) {}, ""},
		{"a zone", func(c *NotifyConfig) { c.TimeZone, c.DigestHour = "Europe/Lisbon", 23 }, ""},
		{"every few seconds", func(c *NotifyConfig) { c.DigestEvery = 3 * time.Second }, ""},
		{"hour 24", func(c *NotifyConfig) { c.DigestHour = 24 }, "notify.digest_hour"},
		{"negative hour", func(c *NotifyConfig) { c.DigestHour = -1 }, "notify.digest_hour"},
		{"every millisecond", func(c *NotifyConfig) { c.DigestEvery = time.Millisecond }, "notify.digest_every"},
		{"unknown zone", func(c *NotifyConfig) { c.TimeZone = "Europe/Atlantis" }, "notify.time_zone"},
		{"no batch", func(c *NotifyConfig) { c.Batch = 0 }, "notify.batch"},
		{"long pause", func(c *NotifyConfig) { c.BatchPause = time.Hour }, "notify.batch_pause"},
		{"busy poll", func(c *NotifyConfig) { c.Poll = time.Millisecond }, "notify.poll"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig()
			c.DataDir = t.TempDir()
			tc.change(&c.Notify)
			err := c.Validate()
			if tc.field == "" && err != nil || tc.field != "" && (err == nil || !strings.Contains(err.Error(), tc.field+":")) {
				t.Errorf("Validate() = %v, want a problem with %q", err, tc.field)
			}
		})
	}
	if loc, err := DefaultNotifyConfig().location(); err != nil || loc != time.Local {
		t.Errorf("the default zone is %v (%v), want the system's", loc, err)
	}
}
