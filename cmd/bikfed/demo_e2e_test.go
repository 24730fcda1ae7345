package main

import (
	"bytes"
	"context"
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
	"github.com/bikfed/bikfed/node"
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
	demoPlaceLine  = regexp.MustCompile(`^    (portal|console|workspace) +(\S+)$`)
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

	// Every printed link is a live invitation of the person printed with it.
	ctx := context.Background()
	stores := map[string]*account.Store{}
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
	}
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
				if !bytes.Contains(b, []byte(p.name)) && !bytes.Contains(b, []byte(p.email)) {
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
