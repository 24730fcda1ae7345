package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bikfed/bikfed/hub"
	"github.com/bikfed/bikfed/internal/account"
	"github.com/bikfed/bikfed/internal/atrest"
	"github.com/bikfed/bikfed/internal/sampledata"
	"github.com/bikfed/bikfed/node"
	"github.com/bikfed/bikfed/protocol"
)

// demoOutPerson is one person as the demo printed them.
type demoOutPerson struct {
	role, who, link string
}

// demoOutSite is one server's block of the demo's people.
type demoOutSite struct {
	places map[string]string
	people []demoOutPerson
}

var (
	demoSiteLine   = regexp.MustCompile(`^  (\S+) +(.+)$`)
	demoPlaceLine  = regexp.MustCompile(`^    (portal|console|moderation|workspace|community|approvals) +(\S+)$`)
	demoPersonLine = regexp.MustCompile(`^    ([a-z-]+) +(.+)$`)
	demoLinkLine   = regexp.MustCompile(`^ {24}(http://\S+)$`)
)

// parseDemoPeople reads the blocks after the demo's "People:" line.
func parseDemoPeople(t *testing.T, out string) map[string]*demoOutSite {
	t.Helper()
	_, block, ok := strings.Cut(out, "\nPeople: ")
	if !ok {
		t.Fatalf("the demo printed no people:\n%s", out)
	}
	sites := map[string]*demoOutSite{}
	var cur *demoOutSite
	lines := strings.Split(block, "\n")
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		switch m := demoPlaceLine.FindStringSubmatch(l); {
		case strings.HasPrefix(l, "  data in "), strings.HasPrefix(l, "Press Ctrl-C"):
			return sites
		case m != nil && cur != nil:
			cur.places[m[1]] = m[2]
		case demoPersonLine.MatchString(l) && cur != nil:
			p := demoPersonLine.FindStringSubmatch(l)
			if i+1 >= len(lines) || !demoLinkLine.MatchString(lines[i+1]) {
				t.Fatalf("the demo printed %s without a link under it:\n%s", p[1], block)
			}
			i++
			cur.people = append(cur.people, demoOutPerson{role: p[1], who: p[2], link: demoLinkLine.FindStringSubmatch(lines[i])[1]})
		case demoSiteLine.MatchString(l):
			cur = &demoOutSite{places: map[string]string{}}
			sites[demoSiteLine.FindStringSubmatch(l)[1]] = cur
		}
	}
	return sites
}

// TestE2E_Demo runs `bikfed demo` until it is ready, then checks that the
// nodes synced, that every person it printed has a one-time sign-in link on
// the right server, and that no youth member's name or email reached a
// file outside their own node.
func TestE2E_Demo(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	stdoutPath, stderrPath := filepath.Join(dir, "demo.out"), filepath.Join(dir, "demo.log")
	stdout, err := os.Create(stdoutPath)
	if err != nil {
		t.Fatal(err)
	}
	defer stdout.Close()
	stderr, err := os.Create(stderrPath)
	if err != nil {
		t.Fatal(err)
	}
	defer stderr.Close()
	cmd := exec.Command(bikfedBin, "demo", "--hub-listen", "127.0.0.1:0", "--dir", data)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			b, _ := os.ReadFile(stderrPath)
			if len(b) > 6000 {
				b = b[len(b)-6000:]
			}
			t.Logf("--- demo log (tail) ---\n%s", b)
		}
	})
	var out string
	waitFor(t, 2*time.Minute, "the demo to be ready", func() error {
		select {
		case err := <-done:
			stopped = true
			t.Fatalf("the demo stopped: %v", err)
		default:
		}
		b, err := os.ReadFile(stdoutPath)
		if err != nil {
			return err
		}
		if out = string(b); !strings.Contains(out, "Press Ctrl-C to stop.") {
			return fmt.Errorf("not yet")
		}
		return nil
	})
	if n := strings.Count(out, "equal=true"); n != 3 {
		t.Fatalf("demo: %d of 3 nodes verified equal:\n%s", n, out)
	}

	sites := parseDemoPeople(t, out)
	if hubSite := sites["hub"]; hubSite != nil {
		checkDemoVideo(t, hubSite.places["portal"])
	}
	want := map[string][]string{"hub": {hub.RoleOperator, hub.RoleCoordinator}}
	for id := range demoPeople {
		want[id] = node.Roles
	}
	if len(sites) != len(want) {
		t.Fatalf("the demo printed the people of %d servers, want %d:\n%s", len(sites), len(want), out)
	}
	localBase := regexp.MustCompile(`^http://localhost:[0-9]+/$`)
	type printed struct {
		site, role, who, token string
	}
	var links []printed
	for id, roles := range want {
		s := sites[id]
		if s == nil {
			t.Fatalf("the demo printed no people for %s:\n%s", id, out)
		}
		var got []string
		for _, p := range s.people {
			got = append(got, p.role)
		}
		if !slices.Equal(got, roles) {
			t.Errorf("%s: the demo printed roles %v, want %v", id, got, roles)
		}
		base, invite := s.places["workspace"], "signin/invite?token="
		if id == "hub" {
			base, invite = s.places["portal"], "console/signin/invite?token="
			if s.places["console"] != base+"console/" {
				t.Errorf("hub: console %q, want %q", s.places["console"], base+"console/")
			}
		}
		if !localBase.MatchString(base) {
			t.Fatalf("%s: printed base URL %q is not http://localhost:PORT/", id, base)
		}
		for _, p := range s.people {
			tok, ok := strings.CutPrefix(p.link, base+invite)
			if !ok || tok == "" {
				t.Errorf("%s %s: link %q is not %s%s<token>", id, p.role, p.link, base, invite)
				continue
			}
			if tok, err = url.QueryUnescape(tok); err != nil {
				t.Fatalf("%s %s: link %q: %v", id, p.role, p.link, err)
			}
			if p.role == node.RoleYouth && !strings.HasSuffix(p.who, ", pseudonym "+id+"-"+demoHandle(id)) {
				t.Errorf("%s: the youth member is printed as %q, without their pseudonym %s-%s", id, p.who, id, demoHandle(id))
			}
			links = append(links, printed{site: id, role: p.role, who: p.who, token: tok})
		}
		served, problems, err := demoInvitePages(base, invite, s.people)
		if err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		if !served {
			t.Logf("%s serves no sign-in pages under %s: its invitation pages are not opened", id, base)
		}
		for _, p := range problems {
			t.Errorf("%s %s", id, p)
		}
	}

	// With the servers still running, their WAL files hold the latest
	// writes; after they stop, the databases do.
	checkYouthStaysHome(t, data, stderrPath)
	checkHeldStaysHome(t, data)
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-done:
		stopped = true
		if err != nil {
			t.Fatalf("the demo did not stop cleanly: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the demo did not stop within 30s of SIGTERM")
	}
	checkYouthStaysHome(t, data, stderrPath)
	checkHeldStaysHome(t, data)

	// Every printed link is a live invitation of the person printed with it.
	ctx := context.Background()
	stores := map[string]*account.Store{}
	nodes := map[string]*node.Node{}
	for id := range want {
		if id == "hub" {
			cfg := hub.DefaultConfig()
			cfg.DataDir = filepath.Join(data, id)
			h, err := hub.OpenForCommand(ctx, cfg, nil)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { h.Close() })
			stores[id] = h.Accounts()
			continue
		}
		cfg := node.DefaultConfig()
		cfg.DataDir = filepath.Join(data, id)
		n, err := node.Open(ctx, cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { n.Close() })
		stores[id] = n.Accounts()
		nodes[id] = n
	}
	checkDemoCommunity(t, data, nodes)
	for _, l := range links {
		m, err := stores[l.site].CheckLink(ctx, account.LinkInvite, l.token)
		if err != nil {
			t.Errorf("%s %s: the printed link is no live invitation: %v", l.site, l.role, err)
			continue
		}
		if !slices.Equal(m.Roles, []string{l.role}) || !strings.HasPrefix(l.who, m.Name+" <"+m.Email+">") {
			t.Errorf("%s: the link printed for %s (%s) invites %s <%s> with roles %v", l.site, l.role, l.who, m.Name, m.Email, m.Roles)
		}
		if want := ""; l.role == node.RoleYouth {
			if want = l.site + "-" + demoHandle(l.site); m.Pseudonym != want {
				t.Errorf("%s: the youth member's pseudonym is %q, want %q", l.site, m.Pseudonym, want)
			}
		} else if m.Pseudonym != want {
			t.Errorf("%s %s: has pseudonym %q, want none", l.site, l.role, m.Pseudonym)
		}
	}
}

// demoHandle is the handle of the youth member of a demo node.
func demoHandle(id string) string {
	for _, p := range demoPeople[id] {
		if p.handle != "" {
			return p.handle
		}
	}
	return ""
}

// demoInvitePages opens each printed link where the server serves its
// sign-in pages, and returns what is wrong: a link whose page is not the
// form that sets a first password for that link's token. served is false
// when the server has no sign-in page at all.
func demoInvitePages(base, invite string, people []demoOutPerson) (served bool, problems []string, err error) {
	signIn := strings.TrimSuffix(invite, "/invite?token=")
	resp, err := http.Get(base + signIn)
	if err != nil {
		return false, nil, err
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		return false, nil, nil
	}
	for _, p := range people {
		resp, err := http.Get(p.link)
		if err != nil {
			return true, problems, err
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return true, problems, err
		}
		u, err := url.Parse(p.link)
		if err != nil {
			return true, problems, err
		}
		tokenField := `name="token" value="` + u.Query().Get("token") + `"`
		if resp.StatusCode != http.StatusOK || !bytes.Contains(body, []byte(tokenField)) ||
			!bytes.Contains(body, []byte(`autocomplete="new-password"`)) {
			problems = append(problems, fmt.Sprintf("%s: %s answers %s without the form that sets a password", p.role, p.link, resp.Status))
		}
	}
	return true, problems, nil
}

// checkYouthStaysHome greps every file of the demo's data directory, and
// the demo's log, for each youth member's name and email: they may appear
// in their own node's files and nowhere else.
func checkYouthStaysHome(t *testing.T, data, logPath string) {
	t.Helper()
	type found struct{ home, elsewhere []string }
	for id, people := range demoPeople {
		for _, p := range people {
			if p.role != node.RoleYouth {
				continue
			}
			var f found
			err := filepath.WalkDir(data, func(path string, d fs.DirEntry, err error) error {
				if err != nil {
					// A WAL or lock file may go between listing and reading.
					if os.IsNotExist(err) {
						return nil
					}
					return err
				}
				if d.IsDir() {
					return nil
				}
				b, err := os.ReadFile(path)
				if os.IsNotExist(err) {
					return nil
				}
				if err != nil {
					return err
				}
				if b = atrest.Reveal(b); !bytes.Contains(b, []byte(p.name)) && !bytes.Contains(b, []byte(p.email)) {
					return nil
				}
				rel, _ := filepath.Rel(data, path)
				if strings.HasPrefix(rel, id+string(filepath.Separator)) {
					f.home = append(f.home, rel)
				} else {
					f.elsewhere = append(f.elsewhere, rel)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if len(f.home) == 0 {
				t.Errorf("%s: the youth member %s is in none of their own node's files: the search finds nothing", id, p.name)
			}
			if len(f.elsewhere) > 0 {
				t.Errorf("%s: the youth member's name or email is in %v", id, f.elsewhere)
			}
			if b, err := os.ReadFile(logPath); err != nil {
				t.Fatal(err)
			} else if bytes.Contains(b, []byte(p.name)) || bytes.Contains(b, []byte(p.email)) {
				t.Errorf("%s: the youth member's name or email is in the demo's log", id)
			}
		}
	}
}

// checkDemoCommunity reads what the demo wrote in the community from each
// node's own store: another SIC's threads, the European youth conversation
// on every node, the one item waiting at pt alone, and fi's flag on the
// nodes it reached through the hub.
func checkDemoCommunity(t *testing.T, data string, nodes map[string]*node.Node) {
	t.Helper()
	ctx := context.Background()
	threads := func(id, space string) []node.ThreadSummary {
		t.Helper()
		l, err := nodes[id].CommunityThreads(ctx, node.ThreadQuery{Space: space, Limit: 100})
		if err != nil {
			t.Fatalf("%s: threads of %s: %v", id, space, err)
		}
		return l.Threads
	}
	for _, id := range []string{"be", "fi", "pt"} {
		owners := map[string]int{}
		for _, space := range []string{"helplines", "awareness", "hotlines", "youth-participation", protocol.SpaceBlog} {
			for _, th := range threads(id, space) {
				owners[th.Owner]++
				if th.Author.Name == "" || th.Author.SIC != th.Owner {
					t.Errorf("%s: thread %q of %s names %+v as its author", id, th.Title, th.Owner, th.Author)
				}
			}
		}
		for _, sic := range []string{"be", "fi", "pt"} {
			if owners[sic] == 0 {
				t.Errorf("%s holds no staff thread of %s: %v", id, sic, owners)
			}
		}
		// The European youth conversation: fi's young person's post with
		// the approved replies of be's and pt's young people and fi's
		// coordinator, not pt's reply that still waits.
		youth := threads(id, protocol.SpaceYouth)
		if !slices.ContainsFunc(youth, func(th node.ThreadSummary) bool {
			return th.Author.Pseudonym == "fi-"+demoHandle("fi") && th.Comments == 3
		}) {
			t.Errorf("%s: the European youth space holds %+v, want fi-%s's post with 3 replies", id, youth, demoHandle("fi"))
		}
		flags, err := nodes[id].List(ctx, node.ListFilter{Kind: protocol.KindFlag})
		if err != nil {
			t.Fatal(err)
		}
		var f protocol.Flag
		if len(flags) != 1 || flags[0].Owner != "fi" || json.Unmarshal(flags[0].Body, &f) != nil ||
			f.Reason != "personal-data" || f.Author.SIC != "fi" || !strings.HasPrefix(f.Target, "be:") {
			t.Errorf("%s holds flags %+v, want fi's flag on an item of be", id, flags)
		}
		if id == "fi" && len(flags) == 1 && !slices.ContainsFunc(demoFilesWith(t, data, f.Text), func(rel string) bool {
			return strings.HasPrefix(rel, "hub"+string(filepath.Separator))
		}) {
			t.Errorf("fi's flag %q is in none of the hub's files", f.Text)
		}
	}
	helplines := threads("fi", "helplines")
	if !slices.ContainsFunc(helplines, func(th node.ThreadSummary) bool { return th.Owner == "be" && th.Comments >= 3 }) {
		t.Errorf("fi's helplines space holds no be thread with the replies of fi, pt and be: %+v", helplines)
	}
	for id, n := range nodes {
		waiting, err := n.HeldItems(ctx, node.HeldFilter{State: node.HeldWaiting})
		if err != nil {
			t.Fatal(err)
		}
		if want := map[string]int{"pt": 1}[id]; len(waiting) != want {
			t.Errorf("%s: %d items wait for a youth coordinator, want %d", id, len(waiting), want)
		}
		approved, err := n.HeldItems(ctx, node.HeldFilter{State: node.HeldApproved})
		if err != nil {
			t.Fatal(err)
		}
		if len(approved) == 0 {
			t.Errorf("%s: no young person's item was approved by its coordinator", id)
		}
	}
}

// checkHeldStaysHome greps the demo's files for the text of the young
// person's item that waits for pt's coordinator: it is on pt's node and in
// no other server's files.
func checkHeldStaysHome(t *testing.T, data string) {
	t.Helper()
	drafts, err := sampledata.Community()
	if err != nil {
		t.Fatal(err)
	}
	var text string
	for _, d := range drafts {
		if d.Waiting {
			var c protocol.Comment
			if err := json.Unmarshal(d.Body, &c); err != nil {
				t.Fatal(err)
			}
			text = c.Text
		}
	}
	if text == "" {
		t.Fatal("the sample community has no item waiting")
	}
	var home, elsewhere []string
	for _, rel := range demoFilesWith(t, data, text) {
		if strings.HasPrefix(rel, "pt"+string(filepath.Separator)) {
			home = append(home, rel)
		} else {
			elsewhere = append(elsewhere, rel)
		}
	}
	if len(home) == 0 {
		t.Errorf("the item waiting at pt is in none of pt's files: the search finds nothing")
	}
	if len(elsewhere) > 0 {
		t.Errorf("the item waiting at pt is in %v", elsewhere)
	}
}

// demoFilesWith lists the files under data, relative to it, that hold text.
func demoFilesWith(t *testing.T, data, text string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(data, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			// A WAL or lock file may go between listing and reading.
			if os.IsNotExist(err) {
				return nil
			}
			return err
		}
		if d.IsDir() {
			return nil
		}
		b, err := os.ReadFile(path)
		if os.IsNotExist(err) {
			return nil
		}
		if err != nil {
			return err
		}
		if bytes.Contains(atrest.Reveal(b), []byte(text)) {
			rel, _ := filepath.Rel(data, path)
			out = append(out, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// demoVideoCard is the sample video's card in the video gallery, with its
// poster.
var demoVideoCard = regexp.MustCompile(`<li class="card video">\s*<a class="poster" href="(/resources/[^"]+)"[^>]*><img class="poster" src="/files/[0-9a-f]{64}/sterk-wachtwoord\.png"[^>]*></a>\s*<h3><a href="/resources/[^"]+"[^>]*>Drie tips voor een sterk wachtwoord</a>`)

// checkDemoVideo: the demo's portal lists the sample video with its poster,
// and its page has a player with the video file and captions in three
// languages, all served.
func checkDemoVideo(t *testing.T, portal string) {
	t.Helper()
	fetch := func(u string) string {
		resp, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %s", u, resp.Status)
		}
		return string(b)
	}
	var page string
	waitFor(t, time.Minute, "the sample video in the gallery", func() error {
		m := demoVideoCard.FindStringSubmatch(fetch(portal + "videos"))
		if m == nil {
			return errors.New("no card of the sample video with its poster")
		}
		page = fetch(portal + strings.TrimPrefix(m[1], "/"))
		return nil
	})
	src := regexp.MustCompile(`<video[^>]*>\s*<source src="/(files/[0-9a-f]{64}/sterk-wachtwoord\.webm)" type="video/webm">`).FindStringSubmatch(page)
	if src == nil {
		t.Fatalf("the sample video's page has no player of its file")
	}
	fetch(portal + src[1])
	var langs []string
	for _, m := range regexp.MustCompile(`<track kind="captions" src="/(files/[^"]+\.vtt)" srclang="([^"]+)"`).FindAllStringSubmatch(page, -1) {
		if !strings.HasPrefix(fetch(portal+m[1]), "WEBVTT") {
			t.Errorf("%s is not WebVTT", m[1])
		}
		langs = append(langs, m[2])
	}
	slices.Sort(langs)
	if !slices.Equal(langs, []string{"en", "fr", "nl"}) {
		t.Errorf("the sample video's captions: %v, want en, fr, nl", langs)
	}
}
