package main

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bikfed/bikfed/internal/atrest"
	"github.com/bikfed/bikfed/internal/mailpittest"
	"github.com/bikfed/bikfed/internal/sampledata"
)

// waitServing waits until the server on dir has recorded the address it
// listens on, so that a command goes through its admin API, and returns it.
func waitServing(t testing.TB, dir, addrFile string) string {
	t.Helper()
	var addr string
	waitFor(t, 30*time.Second, "the server to record its address", func() error {
		b, err := os.ReadFile(filepath.Join(dir, addrFile))
		if err != nil {
			return err
		}
		if addr = strings.TrimSpace(string(b)); addr == "" {
			return fmt.Errorf("%s is empty", addrFile)
		}
		return nil
	})
	return addr
}

var linkLine = regexp.MustCompile(`(?m)^(http://\S+)$`)

// invitationLink is the link `member add` printed on a line of its own.
func invitationLink(t testing.TB, out string) string {
	t.Helper()
	m := linkLine.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("member add printed no link:\n%s", out)
	}
	return m[1]
}

// memberCommands runs add, a refused second add, list, roles, disable and
// remove against a running server; side is "hub" or "node".
func memberCommands(t *testing.T, side, dir, linkPrefix, role, otherRole, foreignRole string, p *proc, logLine string) {
	cli := func(args ...string) (string, error) {
		return runCLI(t, nil, append(append([]string{side, "member"}, args...), "--data", dir)...)
	}
	must := func(args ...string) string {
		t.Helper()
		out, err := cli(args...)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	out := must("add", "Eva.Peeters@example.eu", "--name", "Eva Peeters", "--role", role)
	if link := invitationLink(t, out); !strings.HasPrefix(link, linkPrefix) || len(link) < len(linkPrefix)+32 {
		t.Fatalf("link %q, want %s<token>", link, linkPrefix)
	}
	if !strings.Contains(out, "member 1 (") {
		t.Fatalf("add did not say which member:\n%s", out)
	}
	if err := logContains(t, p, logLine); err != nil {
		t.Fatalf("the add did not go through the running server: %v", err)
	}

	_, err := cli("add", "eva.peeters@example.eu", "--name", "Eva again", "--role", role)
	if err == nil || !strings.Contains(err.Error(), "eva.peeters@example.eu already belongs to member 1 (invited)") {
		t.Fatalf("second add with the same email: %v", err)
	}
	if _, err := cli("add", "x@example.eu", "--name", "X", "--role", foreignRole); err == nil || !strings.Contains(err.Error(), "invalid role") {
		t.Fatalf("add with a role of the other side: %v", err)
	}

	list := must("list")
	if !regexp.MustCompile(`(?m)^1\s+invited\s+` + role + `\s+-\s+Eva Peeters\s+eva\.peeters@example\.eu`).MatchString(list) {
		t.Fatalf("list:\n%s", list)
	}
	if out := must("roles", "1", "--role", role, "--role", otherRole); !strings.Contains(out, "member 1 now holds") {
		t.Fatalf("roles: %s", out)
	}
	if _, err := cli("roles", "1", "--role", foreignRole); err == nil {
		t.Fatal("roles accepted a role of the other side")
	}
	must("disable", "1")
	if list := must("list"); !regexp.MustCompile(`(?m)^1\s+disabled\s`).MatchString(list) {
		t.Fatalf("list after disable:\n%s", list)
	}
	if audit := must("audit"); !strings.Contains(audit, "member-disabled") || !strings.Contains(audit, "member-added") {
		t.Fatalf("audit:\n%s", audit)
	}
	must("remove", "1")
	if list := must("list"); strings.Contains(list, "eva.peeters") {
		t.Fatalf("list after remove:\n%s", list)
	}
	if _, err := cli("remove", "1"); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Fatalf("remove twice: %v", err)
	}
}

func TestE2E_NodeMembers(t *testing.T) {
	nw := newNetwork(t)
	be := nw.addNode("be")
	nw.startNode(be)
	addr := waitServing(t, be.dir, nodeAddrFile)
	memberCommands(t, "node", be.dir, "http://"+addr+"/signin/invite?token=", "editor", "staff", "moderator", be.proc, `msg="member added"`)
}

func TestE2E_HubMembers(t *testing.T) {
	nw := newNetwork(t)
	waitServing(t, nw.hubDir, hubAddrFile)
	memberCommands(t, "hub", nw.hubDir, nw.hubURL+"/console/signin/invite?token=", "operator", "moderator", "editor", nw.hub,
		`msg="admin request" component=hub method=POST path=/admin/v1/members`)
}

// With a mail server configured, the node emails the invitation, and the
// command says so instead of printing the link.
func TestE2E_MemberInvitationEmail(t *testing.T) {
	mp := mailpittest.Start(t)
	nw := newNetwork(t)
	be := nw.addNode("be", "--smtp-host", mp.SMTPHost, "--smtp-port", strconv.Itoa(mp.SMTPPort), "--smtp-tls", "none",
		"--smtp-from", "SIC Belgium <sic@be.example>", "--public-url", "https://sic.be.example")
	nw.startNode(be)
	waitServing(t, be.dir, nodeAddrFile)

	out := mustCLI(t, nil, "node", "member", "add", "eva@example.be", "--name", "Eva Peeters", "--role", "editor", "--data", be.dir)
	if !strings.Contains(out, "emailed to eva@example.be") || linkLine.MatchString(out) {
		t.Fatalf("member add with a mail server:\n%s", out)
	}
	msg := mp.WaitForMessage(t, "eva@example.be")
	link, err := msg.Link("https://sic.be.example/signin/invite?token=")
	if err != nil {
		t.Fatalf("the invitation has no link: %v", err)
	}
	if !strings.Contains(msg.Subject, "Safer Internet Centre BE") || len(link) < len("https://sic.be.example/signin/invite?token=")+32 {
		t.Fatalf("invitation %q with link %q", msg.Subject, link)
	}
}

// A youth member's email and name stay in their node's database: after
// syncs both ways, no file of the hub or of another node holds them, and
// no log, the youth member's own node's included.
func TestE2E_YouthMemberStaysOnNode(t *testing.T) {
	const email, name = "robin.zweistein@youth.example.be", "Robin Zweistein-Quaxley"
	nw := newNetwork(t)
	be, fi := nw.addNode("be"), nw.addNode("fi")
	nw.startNode(be)
	nw.startNode(fi)
	waitServing(t, be.dir, nodeAddrFile)

	out := mustCLI(t, nil, "node", "member", "add", email, "--name", name, "--role", "youth", "--handle", "robin", "--data", be.dir)
	if !strings.Contains(out, "pseudonym be-robin") {
		t.Fatalf("youth add:\n%s", out)
	}
	// Robin uses the workspace: sessions, sign-ins and the audit log are
	// written, all on be.
	robin := newPerson(t, "http://"+waitServing(t, be.dir, nodeAddrFile))
	robin.acceptInvitation(invitationLink(t, out), testPassword)
	robin.signIn(email, testPassword)
	for _, path := range []string{"/", "/account"} {
		if got := robin.get(path); got.status != 200 || !strings.Contains(got.body, name) {
			t.Fatalf("robin opening %s: %d", path, got.status)
		}
	}
	if _, err := runCLI(t, nil, "node", "member", "add", "other@youth.example.be", "--name", "Other", "--role", "youth", "--data", be.dir); err == nil ||
		!strings.Contains(err.Error(), "handle") {
		t.Fatalf("youth without a handle: %v", err)
	}
	importDrafts(t, be, sampledata.Synthetic("be", 20, 5))
	mustCLI(t, nil, "node", "sync", "--data", be.dir)
	mustCLI(t, nil, "node", "sync", "--data", fi.dir)
	if err := nw.verify(fi); err != nil {
		t.Fatal(err)
	}

	check := func(when string) {
		t.Helper()
		for _, root := range []string{nw.hubDir, fi.dir} {
			grepTree(t, when, root, email, name)
		}
		for _, log := range []string{nw.hub.log, fi.proc.log, be.proc.log} {
			grepFile(t, when, log, email, name)
		}
		if b, err := os.ReadFile(filepath.Join(be.dir, "node.db")); err == nil && !bytes.Contains(atrest.Reveal(b), []byte(email)) {
			// The member is in be's database (or its WAL): the grep would
			// find it if it were anywhere else.
			wal, _ := os.ReadFile(filepath.Join(be.dir, "node.db-wal"))
			if !bytes.Contains(atrest.Reveal(wal), []byte(email)) {
				t.Fatalf("%s: the youth member is not in be's database at all", when)
			}
		}
	}
	check("while running")
	be.proc.stop()
	fi.proc.stop()
	nw.hub.stop()
	check("after shutdown")
}

// grepTree fails if any file under root holds one of the strings.
func grepTree(t *testing.T, when, root string, needles ...string) {
	t.Helper()
	n := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		n++
		grepFile(t, when, path, needles...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		t.Fatalf("%s: no files under %s", when, root)
	}
}

func grepFile(t *testing.T, when, path string, needles ...string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range needles {
		if bytes.Contains(atrest.Reveal(b), []byte(s)) {
			t.Errorf("%s: %s holds %q", when, path, s)
		}
	}
}
