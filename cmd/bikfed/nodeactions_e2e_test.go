package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/bikfed/bikfed/node"
	"github.com/bikfed/bikfed/protocol"
)

// createResource creates a public resource on n through the CLI and returns
// its id.
func createResource(t *testing.T, n *testNode, title string) string {
	t.Helper()
	out := mustCLI(t, nil, "node", "create", "--kind", "resource", "--file", resourceJSON(t, n.dir, title), "--data", n.dir)
	var e node.Entity
	if err := json.Unmarshal([]byte(out), &e); err != nil {
		t.Fatalf("create: %v\n%s", err, out)
	}
	return e.ID
}

// publicStatus is the HTTP status of an entity in the hub's public API.
func publicStatus(nw *network, id string) int {
	return httpStatus(nw.hubURL + "/api/v1/entities/" + id)
}

// portalStatus is the HTTP status of a resource's portal page.
func portalStatus(nw *network, id string) int {
	return httpStatus(nw.hubURL + "/resources/" + id)
}

func httpStatus(u string) int {
	resp, err := http.Get(u)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

func hasEntity(n *testNode, id string) error {
	_, err := runCLI(n.proc.t, nil, "node", "get", id, "--data", n.dir)
	return err
}

func hubNodeStatus(nw *network, id string) (protocol.NodeStatus, error) {
	st, err := nw.status()
	if err != nil {
		return protocol.NodeStatus{}, err
	}
	for _, n := range st.Nodes {
		if n.Node == id {
			return n, nil
		}
	}
	return protocol.NodeStatus{}, fmt.Errorf("no %s in the hub's status", id)
}

// The coordination team suspends, resumes, re-keys and removes nodes with
// the running hub, which acts at once.
func TestE2E_NodeActions(t *testing.T) {
	nw := newNetwork(t)
	be, fi, lu := nw.addNode("be"), nw.addNode("fi"), nw.addNode("lu")
	for _, n := range []*testNode{be, fi, lu} {
		nw.startNode(n)
	}
	first := createResource(t, be, "Before the suspension")
	waitFor(t, 20*time.Second, "be's resource on the portal and at fi", func() error {
		if s := publicStatus(nw, first); s != 200 {
			return fmt.Errorf("public API: %d", s)
		}
		if s := portalStatus(nw, first); s != 200 {
			return fmt.Errorf("portal page: %d", s)
		}
		return hasEntity(fi, first)
	})

	mustCLI(t, nil, "hub", "node", "suspend", "be", "--data", nw.hubDir)
	if ns, err := hubNodeStatus(nw, "be"); err != nil || !ns.Suspended {
		t.Fatalf("hub status after suspend: %+v, %v", ns, err)
	}
	if out := mustCLI(t, nil, "hub", "status", "--data", nw.hubDir); !strings.Contains(out, "be: suspended") {
		t.Fatalf("hub status does not show the suspension:\n%s", out)
	}
	during := createResource(t, be, "During the suspension")
	if _, err := runCLI(t, nil, "node", "sync", "--data", be.dir); err == nil || !strings.Contains(err.Error(), "suspended") {
		t.Fatalf("sync of a suspended node: %v, want a suspended refusal", err)
	}
	waitFor(t, 10*time.Second, "the push refusal in be's status", func() error {
		if st := nodeStatus(t, be); !strings.Contains(st.LastPushError, "suspended") {
			return fmt.Errorf("last push error %q", st.LastPushError)
		}
		return nil
	})
	if s, p := publicStatus(nw, first), portalStatus(nw, first); s != 200 || p != 200 {
		t.Fatalf("a suspended node's content left the public surfaces: API %d, portal %d", s, p)
	}
	if ns, _ := hubNodeStatus(nw, "be"); ns.Entities != 1 {
		t.Fatalf("hub holds %d entities of be while suspended, want 1", ns.Entities)
	}

	mustCLI(t, nil, "hub", "node", "resume", "be", "--data", nw.hubDir)
	mustCLI(t, nil, "node", "sync", "--data", be.dir)
	waitFor(t, 20*time.Second, "the change made during the suspension at fi", func() error { return hasEntity(fi, during) })

	// Rotation: the node enrols a new key with the token and keeps its data.
	tok := strings.TrimSpace(mustCLI(t, nil, "hub", "node", "rotate-key", "be", "--data", nw.hubDir))
	if !strings.HasPrefix(tok, "be.") {
		t.Fatalf("rotate-key printed %q", tok)
	}
	be.proc.stop()
	mustCLI(t, nil, "node", "rekey", "--token", tok, "--data", be.dir)
	retired, err := filepath.Glob(filepath.Join(be.dir, "node.key.retired-*"))
	if err != nil || len(retired) != 1 {
		t.Fatalf("retired key file: %v, %v", retired, err)
	}
	nw.startNode(be)
	after := createResource(t, be, "After the rotation")
	waitFor(t, 30*time.Second, "be's new-key change at fi and lu", func() error {
		if err := hasEntity(fi, after); err != nil {
			return err
		}
		return hasEntity(lu, after)
	})
	for _, id := range []string{first, during} {
		if err := hasEntity(be, id); err != nil {
			t.Fatalf("be lost %s across the rotation: %v", id, err)
		}
	}
	waitFor(t, 30*time.Second, "every node equal to the hub", func() error { return verifyAll(nw) })

	t.Run("the old key after the rotation", func(t *testing.T) {
		be.proc.stop()
		defer nw.startNode(be)
		seed, err := os.ReadFile(retired[0])
		if err != nil {
			t.Fatal(err)
		}
		oldKey, err := protocol.KeyFromSeed("be", seed)
		if err != nil {
			t.Fatal(err)
		}
		st := nodeStatus(t, be)
		cred := nodeCredential(t, be)
		id, _ := protocol.NewEntityID("be", time.Now())
		c := &protocol.Change{Protocol: protocol.Version, ID: id, Kind: protocol.KindResource, Owner: "be", Version: 1,
			Seq: st.HeadSeq + 1, UpdatedAt: time.Now().UTC().Add(-24 * time.Hour), Visibility: protocol.VisibilityPublic,
			Body: mustJSON(t, protocol.Resource{Title: "Signed with a stolen key", Description: "x", Language: "en", Languages: []string{"en"},
				AgeMin: 10, AgeMax: 14, Audiences: []string{"teachers"}, Topics: []string{"media-literacy"}, Type: "video"})}
		s, err := oldKey.Sign(c)
		if err != nil {
			t.Fatal(err)
		}
		ccfg := protocol.DefaultClientConfig(nw.hubURL)
		ccfg.Credential = cred
		res, err := protocol.NewClient(ccfg).Push(context.Background(),
			protocol.PushHeader{Node: "be", Epoch: st.Epoch, FromSeq: c.Seq, ToSeq: c.Seq, HeadSeq: c.Seq}, []protocol.Signed{s})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Refused) != 1 || res.Refused[0].Code != protocol.CodeBadSignature || !strings.Contains(res.Refused[0].Reason, "retired") {
			t.Fatalf("push signed with the retired key = %+v", res)
		}
	})

	t.Run("remove, keeping the content", func(t *testing.T) {
		mustCLI(t, nil, "hub", "node", "remove", "lu", "--keep-content", "--data", nw.hubDir)
		if _, err := runCLI(t, nil, "hub", "node", "remove", "fi", "--data", nw.hubDir); err == nil {
			t.Fatal("remove without a content choice succeeded")
		}
		kept := createResource(t, lu, "Written after the removal")
		waitFor(t, 10*time.Second, "lu's push refusal", func() error {
			if st := nodeStatus(t, lu); !strings.Contains(st.LastPushError, "unauthorized") {
				return fmt.Errorf("last push error %q", st.LastPushError)
			}
			return nil
		})
		if err := hasEntity(fi, kept); err == nil {
			t.Fatal("a removed node's new change reached fi")
		}
		if _, err := runCLI(t, nil, "hub", "register-node", "lu", "--data", nw.hubDir); err == nil {
			t.Fatal("a removed node was registered again")
		}
		if ns, err := hubNodeStatus(nw, "lu"); err != nil || !ns.Removed {
			t.Fatalf("hub status of the removed node: %+v, %v", ns, err)
		}
		if err := nw.verify(fi); err != nil {
			t.Fatalf("content kept after the removal no longer matches: %v", err)
		}
	})

	t.Run("remove, erasing the content", func(t *testing.T) {
		out := mustCLI(t, nil, "hub", "node", "remove", "be", "--erase-content", "--data", nw.hubDir)
		if !strings.Contains(out, "3 entities erased") {
			t.Fatalf("remove --erase-content printed %q", out)
		}
		waitFor(t, 20*time.Second, "the erased resources off the portal and its API", func() error {
			for _, id := range []string{first, during, after} {
				if s := portalStatus(nw, id); s == 200 {
					return fmt.Errorf("portal still shows %s", id)
				}
				if s := publicStatus(nw, id); s != 404 {
					return fmt.Errorf("erased %s: public API answers %d", id, s)
				}
			}
			return nil
		})
		waitFor(t, 20*time.Second, "the erasures applied at fi", func() error {
			for _, id := range []string{first, during, after} {
				out, err := runCLI(t, nil, "node", "get", id, "--data", fi.dir)
				if err != nil {
					return err
				}
				var e node.Entity
				if err := json.Unmarshal([]byte(out), &e); err != nil {
					return err
				}
				if !e.Erased || (len(e.Body) > 0 && string(e.Body) != "null") {
					return fmt.Errorf("%s at fi: erased=%v body=%s", id, e.Erased, e.Body)
				}
			}
			return nil
		})
		waitFor(t, 20*time.Second, "the erasures complete at the hub", func() error {
			st, err := nw.status()
			if err != nil {
				return err
			}
			if len(st.Erasures) != 3 {
				return fmt.Errorf("%d erasures", len(st.Erasures))
			}
			for _, e := range st.Erasures {
				if !e.Complete {
					return fmt.Errorf("erasure %s waits for %v", e.ID, e.Pending)
				}
			}
			return nil
		})
		if err := nw.verify(fi); err != nil {
			t.Fatal(err)
		}
	})
}

// nodeCredential reads a stopped node's hub credential from its database.
func nodeCredential(t *testing.T, n *testNode) string {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(n.dir, "node.db")+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var cred string
	if err := db.QueryRow(`SELECT credential FROM identity WHERE id = 1`).Scan(&cred); err != nil {
		t.Fatal(err)
	}
	return cred
}
