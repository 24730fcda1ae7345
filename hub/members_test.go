package hub

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/bikfed/bikfed/internal/account"
	"github.com/bikfed/bikfed/internal/memberapi"
	"github.com/bikfed/bikfed/protocol"
)

// adminDo sends a JSON request with token and decodes the answer into out.
func (th *testHub) adminDo(t *testing.T, token, method, path string, in, out any) int {
	t.Helper()
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			t.Fatal(err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, th.url+path, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: decode %q: %v", method, path, b, err)
		}
	}
	return resp.StatusCode
}

func TestHub_Members(t *testing.T) {
	th := mustOpenHub(t)
	op := th.AdminToken()
	const password = "a long walk by the grey north sea"
	memberPath := func(id int64, rest string) string {
		return memberapi.PathMembers + "/" + strconv.FormatInt(id, 10) + rest
	}

	t.Run("operator token required", func(t *testing.T) {
		n := th.enrolNode(t, "be")
		var eb protocol.ErrorResponse
		if code := th.adminDo(t, n.cred, "GET", memberapi.PathMembers, nil, &eb); code != 403 {
			t.Fatalf("node credential: %d %+v", code, eb.Error)
		}
		if code := th.adminDo(t, "not-the-operator-token", "GET", memberapi.PathMembers, nil, &eb); code != 401 {
			t.Fatalf("no token: %d %+v", code, eb.Error)
		}
	})

	var inv memberapi.Invitation
	t.Run("add returns a console link that accepts the invitation", func(t *testing.T) {
		req := memberapi.AddRequest{Email: "mod@bik.example", Name: "Mona Moderator", Roles: []string{"moderator", "coordinator"}}
		if code := th.adminDo(t, op, "POST", memberapi.PathMembers, req, &inv); code != 201 {
			t.Fatalf("add: %d", code)
		}
		tok, ok := strings.CutPrefix(inv.Link, th.BaseURL()+PathConsoleInvite)
		if !ok || inv.Emailed || strings.Join(inv.Member.Roles, ",") != "coordinator,moderator" {
			t.Fatalf("invitation %+v", inv)
		}
		if m, err := th.Accounts().Accept(t.Context(), tok, password, "127.0.0.1"); err != nil || m.Status != account.StatusActive {
			t.Fatalf("Accept = %+v, %v", m, err)
		}
	})

	t.Run("refusals", func(t *testing.T) {
		for _, c := range []struct {
			name string
			req  memberapi.AddRequest
			code int
		}{
			{"node role", memberapi.AddRequest{Email: "e@bik.example", Name: "E", Roles: []string{"editor"}}, 422},
			{"youth role", memberapi.AddRequest{Email: "y@bik.example", Name: "Y", Roles: []string{"youth"}, Handle: "y"}, 422},
			{"handle", memberapi.AddRequest{Email: "h@bik.example", Name: "H", Roles: []string{"moderator"}, Handle: "h"}, 422},
			{"bad email", memberapi.AddRequest{Email: "not an email", Name: "N", Roles: []string{"operator"}}, 422},
			{"same email", memberapi.AddRequest{Email: "MOD@bik.example", Name: "Again", Roles: []string{"operator"}}, 409},
		} {
			var eb protocol.ErrorResponse
			if code := th.adminDo(t, op, "POST", memberapi.PathMembers, c.req, &eb); code != c.code || eb.Error == nil {
				t.Errorf("%s: %d %+v, want %d", c.name, code, eb.Error, c.code)
			}
		}
	})

	t.Run("roles, disable, remove", func(t *testing.T) {
		var m memberapi.Member
		if code := th.adminDo(t, op, "PUT", memberPath(inv.Member.ID, "/roles"), memberapi.RolesRequest{Roles: []string{"operator"}}, &m); code != 200 ||
			strings.Join(m.Roles, ",") != "operator" {
			t.Fatalf("roles: %d %+v", code, m)
		}
		sess, _, err := th.Accounts().StartSession(t.Context(), inv.Member.ID, "test", "127.0.0.1")
		if err != nil {
			t.Fatal(err)
		}
		if code := th.adminDo(t, op, "POST", memberPath(inv.Member.ID, "/disable"), nil, &m); code != 200 || m.Status != "disabled" {
			t.Fatalf("disable: %d %+v", code, m)
		}
		if _, _, err := th.Accounts().Lookup(t.Context(), sess); !errors.Is(err, account.ErrNoSession) {
			t.Fatalf("session after disable: %v", err)
		}
		var l memberapi.MemberList
		if code := th.adminDo(t, op, "GET", memberapi.PathMembers, nil, &l); code != 200 || len(l.Members) != 1 || l.Members[0].Status != "disabled" {
			t.Fatalf("list: %d %+v", code, l)
		}
		if code := th.adminDo(t, op, "DELETE", memberPath(inv.Member.ID, ""), nil, nil); code != 204 {
			t.Fatalf("remove: %d", code)
		}
		if code := th.adminDo(t, op, "GET", memberapi.PathMembers, nil, &l); code != 200 || len(l.Members) != 0 {
			t.Fatalf("list after remove: %d %+v", code, l)
		}
		var a memberapi.AuditList
		if code := th.adminDo(t, op, "GET", memberapi.PathAudit, nil, &a); code != 200 || len(a.Events) == 0 ||
			a.Events[0].Type != string(account.EventMemberRemoved) || a.Events[0].Actor != actorOperatorToken {
			t.Fatalf("audit: %d %+v", code, a)
		}
	})
}
