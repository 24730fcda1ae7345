package node

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/bikfed/bikfed/internal/account"
	"github.com/bikfed/bikfed/internal/memberapi"
	"github.com/bikfed/bikfed/protocol"
)

func jsonBody(t *testing.T, v any) *bytes.Reader {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.NewReader(b)
}

func TestNode_Members(t *testing.T) {
	hub := newFakeHub(t)
	n := newTestNode(t, hub, "be")
	srv := httptest.NewServer(n.Handler())
	t.Cleanup(srv.Close)
	c := adminClient{t: t, base: srv.URL, token: n.adminToken}
	const password = "a long walk by the grey north sea"

	add := func(t *testing.T, req memberapi.AddRequest) (int, memberapi.Invitation, errorBody) {
		t.Helper()
		var raw json.RawMessage
		code := c.do("POST", memberapi.PathMembers, jsonBody(t, req), &raw)
		var inv memberapi.Invitation
		var eb errorBody
		if code == 201 {
			json.Unmarshal(raw, &inv)
		} else {
			json.Unmarshal(raw, &eb)
		}
		return code, inv, eb
	}

	t.Run("admin token required", func(t *testing.T) {
		bad := adminClient{t: t, base: srv.URL, token: "wrong-token-wrong-token"}
		var eb errorBody
		if code := bad.do("GET", memberapi.PathMembers, nil, &eb); code != 401 {
			t.Fatalf("status %d, %+v", code, eb)
		}
	})

	var editor memberapi.Invitation
	t.Run("add returns a link that accepts the invitation", func(t *testing.T) {
		code, inv, eb := add(t, memberapi.AddRequest{Email: "Eva@Example.BE", Name: "Eva Peeters", Roles: []string{"editor"}})
		if code != 201 {
			t.Fatalf("add: %d %+v", code, eb)
		}
		if inv.Member.Status != "invited" || inv.Member.Email != "eva@example.be" || inv.Emailed || inv.Member.Pseudonym != "" {
			t.Fatalf("invitation %+v", inv)
		}
		tok, ok := strings.CutPrefix(inv.Link, n.PublicURL()+PathInvite)
		if !ok || tok == "" {
			t.Fatalf("link %q does not start with %s%s", inv.Link, n.PublicURL(), PathInvite)
		}
		m, err := n.Accounts().Accept(t.Context(), tok, password, "127.0.0.1")
		if err != nil || m.Status != account.StatusActive || m.ID != inv.Member.ID {
			t.Fatalf("Accept = %+v, %v", m, err)
		}
		if _, err := n.Accounts().Accept(t.Context(), tok, password, "127.0.0.1"); !errors.Is(err, account.ErrTokenUsed) {
			t.Fatalf("second Accept: %v, want ErrTokenUsed", err)
		}
		editor = inv
	})

	t.Run("the same email twice is refused and names the member", func(t *testing.T) {
		code, _, eb := add(t, memberapi.AddRequest{Email: "eva@example.be", Name: "Eva again", Roles: []string{"staff"}})
		if code != 409 || eb.Error.Code != protocol.CodeConflict || !strings.Contains(eb.Error.Message, "member "+strconv.FormatInt(editor.Member.ID, 10)) {
			t.Fatalf("second add: %d %+v", code, eb)
		}
	})

	t.Run("roles are the node's", func(t *testing.T) {
		for _, roles := range [][]string{nil, {"operator"}, {"editor", "boss"}} {
			code, _, eb := add(t, memberapi.AddRequest{Email: "x@example.be", Name: "X", Roles: roles})
			if code != 422 || eb.Error.Code != protocol.CodeInvalidField {
				t.Fatalf("roles %v: %d %+v", roles, code, eb)
			}
		}
	})

	t.Run("youth pseudonym", func(t *testing.T) {
		code, _, eb := add(t, memberapi.AddRequest{Email: "kid@example.be", Name: "Kid", Roles: []string{"youth"}})
		if code != 422 || !strings.Contains(eb.Error.Message, "handle") {
			t.Fatalf("youth without a handle: %d %+v", code, eb)
		}
		code, _, eb = add(t, memberapi.AddRequest{Email: "ed@example.be", Name: "Ed", Roles: []string{"editor"}, Handle: "ed"})
		if code != 422 {
			t.Fatalf("editor with a handle: %d %+v", code, eb)
		}
		code, _, eb = add(t, memberapi.AddRequest{Email: "kid@example.be", Name: "Kid", Roles: []string{"youth"}, Handle: "Bad Handle"})
		if code != 422 {
			t.Fatalf("bad handle: %d %+v", code, eb)
		}
		code, inv, eb := add(t, memberapi.AddRequest{Email: "kid@example.be", Name: "Kid", Roles: []string{"youth"}, Handle: "sunny"})
		if code != 201 || inv.Member.Pseudonym != "be-sunny" {
			t.Fatalf("youth: %d %+v %+v", code, inv, eb)
		}
		code, _, eb = add(t, memberapi.AddRequest{Email: "kid2@example.be", Name: "Kid 2", Roles: []string{"youth"}, Handle: "sunny"})
		if code != 409 || !strings.Contains(eb.Error.Message, "handle") {
			t.Fatalf("taken handle: %d %+v", code, eb)
		}
	})

	t.Run("set roles", func(t *testing.T) {
		path := memberapi.PathMembers + "/" + strconv.FormatInt(editor.Member.ID, 10) + "/roles"
		var m memberapi.Member
		if code := c.do("PUT", path, jsonBody(t, memberapi.RolesRequest{Roles: []string{"staff", "editor"}}), &m); code != 200 ||
			strings.Join(m.Roles, ",") != "editor,staff" {
			t.Fatalf("set roles: %d %+v", code, m)
		}
		var eb errorBody
		if code := c.do("PUT", path, jsonBody(t, memberapi.RolesRequest{Roles: []string{"moderator"}}), &eb); code != 422 {
			t.Fatalf("hub role: %d %+v", code, eb)
		}
		if code := c.do("PUT", path, jsonBody(t, memberapi.RolesRequest{Roles: []string{"youth"}}), &eb); code != 422 || !strings.Contains(eb.Error.Message, "pseudonym") {
			t.Fatalf("youth without pseudonym: %d %+v", code, eb)
		}
	})

	t.Run("disable ends sessions", func(t *testing.T) {
		tok, _, err := n.Accounts().StartSession(t.Context(), editor.Member.ID, "test", "127.0.0.1")
		if err != nil {
			t.Fatal(err)
		}
		var m memberapi.Member
		if code := c.do("POST", memberapi.PathMembers+"/"+strconv.FormatInt(editor.Member.ID, 10)+"/disable", nil, &m); code != 200 || m.Status != "disabled" {
			t.Fatalf("disable: %d %+v", code, m)
		}
		if _, _, err := n.Accounts().Lookup(t.Context(), tok); !errors.Is(err, account.ErrNoSession) {
			t.Fatalf("Lookup after disable: %v, want ErrNoSession", err)
		}
	})

	t.Run("list and audit", func(t *testing.T) {
		var l memberapi.MemberList
		if code := c.do("GET", memberapi.PathMembers, nil, &l); code != 200 || len(l.Members) != 2 {
			t.Fatalf("list: %d %+v", code, l)
		}
		var a memberapi.AuditList
		if code := c.do("GET", memberapi.PathAudit+"?limit=50", nil, &a); code != 200 {
			t.Fatalf("audit: %d", code)
		}
		seen := map[string]bool{}
		for _, e := range a.Events {
			seen[e.Type] = true
			if e.Type == string(account.EventMemberAdded) && e.Actor != actorAdminToken {
				t.Errorf("event %+v: actor", e)
			}
		}
		for _, want := range []account.EventType{account.EventMemberAdded, account.EventInvitationAccepted, account.EventRolesChanged, account.EventMemberDisabled} {
			if !seen[string(want)] {
				t.Errorf("audit log lacks %s: %+v", want, a.Events)
			}
		}
	})

	t.Run("remove", func(t *testing.T) {
		path := memberapi.PathMembers + "/" + strconv.FormatInt(editor.Member.ID, 10)
		if code := c.do("DELETE", path, nil, nil); code != 204 {
			t.Fatalf("remove: %d", code)
		}
		var eb errorBody
		if code := c.do("GET", path, nil, &eb); code != 404 {
			t.Fatalf("get removed: %d %+v", code, eb)
		}
		if code := c.do("DELETE", path, nil, &eb); code != 404 {
			t.Fatalf("remove twice: %d %+v", code, eb)
		}
	})

	t.Run("members are never changes", func(t *testing.T) {
		if seqs := outboxSeqs(t, n); len(seqs) != 0 {
			t.Fatalf("outbox holds %v after member management", seqs)
		}
	})
}
