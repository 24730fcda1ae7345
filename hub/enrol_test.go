package hub

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bikfed/bikfed/protocol"
)

func TestHub_Enrol(t *testing.T) {
	th := mustOpenHub(t)
	ctx := t.Context()

	t.Run("binds key and issues credential", func(t *testing.T) {
		n := th.enrolNode(t, "be")
		dir, err := th.client("").Keys(ctx)
		if err != nil {
			t.Fatal(err)
		}
		k, ok := dir.Lookup()(n.key.ID)
		if !ok || k.Owner != "be" || !k.PublicKey.Equal(n.key.Public()) {
			t.Fatalf("key directory lacks be's key: %+v", dir)
		}
		if _, ok := dir.Lookup()(th.KeyID()); !ok {
			t.Fatal("key directory lacks the hub's key")
		}
		st, err := n.client.Status(ctx)
		if err != nil {
			t.Fatalf("status with credential: %v", err)
		}
		if len(st.Nodes) != 1 || st.Nodes[0].Node != "be" || !st.Nodes[0].Enrolled || st.Nodes[0].Epoch != "e1" {
			t.Fatalf("own status = %+v", st.Nodes)
		}
	})

	enrol := func(id, tok string, key protocol.Key) error {
		_, err := th.client("").Enrol(ctx, protocol.EnrolRequest{Node: id, Token: tok, KeyID: key.ID, PublicKey: key.Public(), Epoch: "e1"})
		return err
	}

	t.Run("token is one-time", func(t *testing.T) {
		tok, err := th.RegisterNode(ctx, "fi", "Finland")
		if err != nil {
			t.Fatal(err)
		}
		key := newKey(t, "fi")
		if err := enrol("fi", tok, key); err != nil {
			t.Fatal(err)
		}
		if err := enrol("fi", tok, newKey(t, "fi")); !errors.Is(err, protocol.ErrUnauthorized) {
			t.Fatalf("second use with another key: err = %v, want unauthorized", err)
		}
		_, err = th.client("").Enrol(ctx, protocol.EnrolRequest{Node: "fi", Token: tok, KeyID: key.ID, PublicKey: key.Public(), Epoch: "e2"})
		if !errors.Is(err, protocol.ErrUnauthorized) {
			t.Fatalf("second use with another epoch: err = %v, want unauthorized", err)
		}
	})

	t.Run("a lost answer can be asked for again", func(t *testing.T) {
		tok, err := th.RegisterNode(ctx, "se", "Sweden")
		if err != nil {
			t.Fatal(err)
		}
		key := newKey(t, "se")
		req := protocol.EnrolRequest{Node: "se", Token: tok, KeyID: key.ID, PublicKey: key.Public(), Epoch: "e1"}
		first, err := th.client("").Enrol(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		again, err := th.client("").Enrol(ctx, req)
		if err != nil {
			t.Fatalf("the same enrolment again: %v", err)
		}
		if again.Credential == first.Credential {
			t.Fatal("the retry returned the same credential")
		}
		if _, err := th.client(again.Credential).Status(ctx); err != nil {
			t.Fatalf("the retry's credential: %v", err)
		}
		if _, err := th.client(first.Credential).Status(ctx); !errors.Is(err, protocol.ErrUnauthorized) {
			t.Fatalf("the first credential after the retry: err = %v, want unauthorized", err)
		}

		// Once the node has enrolled with a newer token, the old one is spent
		// for good, even with the same key and epoch.
		tok2, err := th.RegisterNode(ctx, "se", "Sweden")
		if err != nil {
			t.Fatal(err)
		}
		key2 := newKey(t, "se")
		if _, err := th.client("").Enrol(ctx, protocol.EnrolRequest{Node: "se", Token: tok2, KeyID: key2.ID, PublicKey: key2.Public(), Epoch: "e2"}); err != nil {
			t.Fatal(err)
		}
		if _, err := th.client("").Enrol(ctx, req); !errors.Is(err, protocol.ErrUnauthorized) {
			t.Fatalf("replaying the older token: err = %v, want unauthorized", err)
		}
	})

	t.Run("expired token", func(t *testing.T) {
		tok, err := th.RegisterNode(ctx, "de", "Germany")
		if err != nil {
			t.Fatal(err)
		}
		th.clock.Advance(7*24*time.Hour + time.Minute)
		defer th.clock.Advance(-(7*24*time.Hour + time.Minute))
		err = enrol("de", tok, newKey(t, "de"))
		if !errors.Is(err, protocol.ErrUnauthorized) || !strings.Contains(err.Error(), "expired") {
			t.Fatalf("err = %v, want unauthorized (expired)", err)
		}
	})

	t.Run("token of another node", func(t *testing.T) {
		tok, err := th.RegisterNode(ctx, "nl", "Netherlands")
		if err != nil {
			t.Fatal(err)
		}
		_, secret, _ := strings.Cut(tok, ".")
		if err := enrol("lu", "lu."+secret, newKey(t, "lu")); !errors.Is(err, protocol.ErrUnauthorized) {
			t.Fatalf("token of nl as lu: err = %v", err)
		}
		if err := enrol("lu", tok, newKey(t, "lu")); !errors.Is(err, protocol.ErrUnauthorized) {
			t.Fatalf("nl's token for lu: err = %v", err)
		}
		// Still usable by its own node.
		if err := enrol("nl", tok, newKey(t, "nl")); err != nil {
			t.Fatalf("nl: %v", err)
		}
	})

	t.Run("key id must match key", func(t *testing.T) {
		tok, _ := th.RegisterNode(ctx, "at", "Austria")
		key, other := newKey(t, "at"), newKey(t, "at")
		_, err := th.client("").Enrol(ctx, protocol.EnrolRequest{Node: "at", Token: tok, KeyID: other.ID, PublicKey: key.Public(), Epoch: "e1"})
		if !errors.Is(err, protocol.ErrInvalidField) {
			t.Fatalf("err = %v, want invalid_field", err)
		}
	})

	t.Run("re-enrolment replaces credential and keeps old key", func(t *testing.T) {
		old := th.enrolNode(t, "ie")
		fresh := th.enrolWithKey(t, "ie", newKey(t, "ie"), "e1")
		if _, err := old.client.Status(ctx); !errors.Is(err, protocol.ErrUnauthorized) {
			t.Fatalf("old credential: err = %v, want unauthorized", err)
		}
		if _, err := fresh.client.Status(ctx); err != nil {
			t.Fatalf("new credential: %v", err)
		}
		dir := th.KeyDirectory()
		for _, k := range []string{old.key.ID, fresh.key.ID} {
			if _, ok := dir.Lookup()(k); !ok {
				t.Fatalf("key %s missing after re-enrolment", k)
			}
		}
	})

	t.Run("register refuses bad ids", func(t *testing.T) {
		for _, id := range []string{"hub", "B", "x", "toolongnodeidentifier", "1a"} {
			if _, err := th.RegisterNode(context.Background(), id, ""); err == nil {
				t.Errorf("RegisterNode(%q) succeeded", id)
			}
		}
	})
}

func TestHub_Auth(t *testing.T) {
	th := mustOpenHub(t)
	n := th.enrolNode(t, "be")
	for _, tc := range []struct {
		name, bearer string
		want         int
	}{
		{"none", "", 401},
		{"garbage", "nope", 401},
		{"forged credential", "be." + strings.Repeat("A", 43), 401},
		{"node", n.cred, 200},
		{"operator", th.AdminToken(), 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body := get(t, th.url+protocol.PathStatus, tc.bearer)
			if code != tc.want {
				t.Fatalf("status %d (%s), want %d", code, body, tc.want)
			}
		})
	}
	code, _ := get(t, th.url+"/healthz", "")
	if code != 200 {
		t.Fatalf("healthz %d", code)
	}
}

func TestHub_RegisterNode_RefusesBidiControls(t *testing.T) {
	th := mustOpenHub(t)
	for _, name := range []string{"Safer Internet Centre \u202eeigleB", "Child \u2067Focus\u2069"} {
		if _, err := th.RegisterNode(t.Context(), "be", name); !errors.Is(err, protocol.ErrInvalidField) {
			t.Errorf("RegisterNode(%q): err = %v, want invalid_field", name, err)
		}
	}
}

// A copy of a used enrolment token, with the key id and epoch every push
// shows, must not take a node's credential away once the node has synced.
func TestHub_Enrol_RetryOnlyBeforeSync(t *testing.T) {
	th := mustOpenHub(t)
	ctx := t.Context()
	first := func(t *testing.T, id string) (protocol.EnrolRequest, *testNode) {
		t.Helper()
		tok, err := th.RegisterNode(ctx, id, "SIC "+id)
		if err != nil {
			t.Fatal(err)
		}
		key := newKey(t, id)
		req := protocol.EnrolRequest{Node: id, Token: tok, KeyID: key.ID, PublicKey: key.Public(), Epoch: "e1"}
		res, err := th.client("").Enrol(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		return req, &testNode{id: id, key: key, epoch: "e1", cred: res.Credential, client: th.client(res.Credential), hub: th}
	}
	refused := func(t *testing.T, req protocol.EnrolRequest, n *testNode) {
		t.Helper()
		if _, err := th.client("").Enrol(ctx, req); !errors.Is(err, protocol.ErrUnauthorized) {
			t.Fatalf("retry after the node synced: err = %v, want unauthorized", err)
		}
		if _, err := n.client.Status(ctx); err != nil {
			t.Fatalf("the node's credential after the refused retry: %v", err)
		}
	}

	t.Run("after a push", func(t *testing.T) {
		req, n := first(t, "be")
		n.mustPush(t, n.signAll(t, n.resource(t, "Guide", protocol.VisibilityPublic))...)
		refused(t, req, n)
	})
	t.Run("after a pull", func(t *testing.T) {
		req, n := first(t, "fi")
		if _, err := n.client.Changes(ctx, 0, 10, 0); err != nil {
			t.Fatal(err)
		}
		refused(t, req, n)
	})
	t.Run("another public key under the same key id", func(t *testing.T) {
		req, n := first(t, "pt")
		other := newKey(t, "pt")
		forged := req
		forged.PublicKey = other.Public()
		if _, err := th.client("").Enrol(ctx, forged); err == nil {
			t.Fatal("a public key that does not match the key id was accepted")
		}
		if _, err := n.client.Status(ctx); err != nil {
			t.Fatalf("the node's credential: %v", err)
		}
	})
	t.Run("the same request before any sync still works", func(t *testing.T) {
		req, _ := first(t, "se")
		again, err := th.client("").Enrol(ctx, req)
		if err != nil {
			t.Fatalf("retry before any sync: %v", err)
		}
		if _, err := th.client(again.Credential).Status(ctx); err != nil {
			t.Fatalf("the retry's credential: %v", err)
		}
	})
}

// TestEnrol_Concurrent: nodes enrolling at the same moment all find their
// key in the directory: each one's first push is applied.
func TestEnrol_Concurrent(t *testing.T) {
	th := mustOpenHub(t)
	nodes := make([]*testNode, 24)
	var wg sync.WaitGroup
	for i := range nodes {
		wg.Go(func() { nodes[i] = th.enrolNode(t, fmt.Sprintf("sim%03d", i)) })
	}
	wg.Wait()
	for _, n := range nodes {
		res := n.mustPush(t, n.sign(t, n.resource(t, "Lesson of "+n.id, protocol.VisibilityPublic)))
		if res.Applied != 1 {
			t.Errorf("%s: applied %d, refused %+v", n.id, res.Applied, res.Refused)
		}
	}
}
