package main

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/bikfed/bikfed/protocol"
)

// nodeDB opens a stopped node's database as the node left it.
func nodeDB(t *testing.T, n *testNode) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(n.dir, "node.db")+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// writeJSONFile writes v to a file in dir and returns its path.
func writeJSONFile(t *testing.T, dir, name string, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// createdID is the id bikfed node create printed.
func createdID(t *testing.T, out string) string {
	t.Helper()
	var e struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal([]byte(out), &e); err == nil && e.ID != "" {
		return e.ID
	}
	for _, f := range strings.Fields(out) {
		if _, err := protocol.SplitEntityID(f); err == nil {
			return f
		}
	}
	t.Fatalf("no entity id in %q", out)
	return ""
}

// hubNode is one node's row of the hub's status.
func hubNode(t *testing.T, nw *network, id string) protocol.NodeStatus {
	t.Helper()
	st, err := nw.status()
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range st.Nodes {
		if n.Node == id {
			return n
		}
	}
	t.Fatalf("no node %s in the hub's status", id)
	return protocol.NodeStatus{}
}

// manifestOf returns the ids of owner's entities the hub holds.
func manifestOf(t *testing.T, nw *network, owner string) []string {
	t.Helper()
	cfg := protocol.DefaultClientConfig(nw.hubURL)
	cfg.Credential = nw.adminToken()
	m, err := protocol.NewClient(cfg).Manifest(t.Context(), owner)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, e := range m.Entries {
		ids = append(ids, e.ID)
	}
	return ids
}

// rebuildPortal stops the hub, drops its portal index and starts it again,
// then waits until the index has caught up with the aggregate.
func rebuildPortal(t *testing.T, nw *network) {
	t.Helper()
	nw.hub.stop()
	for _, f := range []string{"portal.db", "portal.db-wal", "portal.db-shm"} {
		if err := os.Remove(filepath.Join(nw.hubDir, f)); err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
	}
	nw.startHub()
	waitFor(t, 60*time.Second, "the rebuilt portal index", func() error {
		st, err := nw.status()
		if err != nil {
			return err
		}
		var page struct {
			IndexedSeq int64 `json:"indexed_seq"`
		}
		if err := json.Unmarshal([]byte(getBody(t, nw.hubURL+"/api/v1/resources")), &page); err != nil {
			return err
		}
		if st.PortalIndexedSeq < st.HubSeq {
			return fmt.Errorf("indexed %d of %d", st.PortalIndexedSeq, st.HubSeq)
		}
		return nil
	})
}

// A node may publish the profile (helpline, hotline) of its own country
// only: a node whose own checks were bypassed is refused by the hub, and the
// portal shows Belgium's own profile at every index rebuild.
func TestE2E_ProfileBelongsToCountry(t *testing.T) {
	nw := newNetwork(t)
	be := nw.addNode("be", fastSync...)
	fi := nw.addNode("fi", fastSync...)
	dir := t.TempDir()
	profile := func(country, name, phone string) protocol.Profile {
		return protocol.Profile{Country: country, Name: name, Languages: []string{"nl", "fr"},
			Helpline: &protocol.Helpline{Name: name + " helpline", Phone: phone}}
	}

	// fi's own checks refuse a profile for Belgium.
	hijack := writeJSONFile(t, dir, "hijack.json", profile("be", "Totally Official Helpline", "+1 555 0100"))
	if out, err := runCLI(t, nil, "node", "create", "--kind", "profile", "--visibility", "public", "--file", hijack, "--data", fi.dir); err == nil ||
		!strings.Contains(err.Error(), string(protocol.CodeCountryNotAllowed)) {
		t.Fatalf("fi authoring a profile for be: %v %s", err, out)
	}
	// A tampered node believes it speaks for Belgium: the hub decides.
	db := nodeDB(t, fi)
	var learnt sql.NullString
	if err := db.QueryRow(`SELECT countries FROM identity`).Scan(&learnt); err != nil || learnt.String != "fi" {
		t.Fatalf("fi's countries from its enrolment answer: %+v, %v; want fi", learnt, err)
	}
	if _, err := db.Exec(`UPDATE identity SET countries = 'be,fi'`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	mustCLI(t, nil, "node", "create", "--kind", "profile", "--visibility", "public", "--file", hijack, "--data", fi.dir)
	mustCLI(t, nil, "node", "create", "--kind", "profile", "--visibility", "public",
		"--file", writeJSONFile(t, dir, "be.json", profile("be", "Child Focus", "116 000")), "--data", be.dir)
	nw.startNode(be)
	nw.startNode(fi)

	waitFor(t, 60*time.Second, "fi's profile for be to be refused", func() error {
		st := nodeStatus(t, fi)
		for _, r := range st.Refusals {
			if r.Code == protocol.CodeCountryNotAllowed {
				return nil
			}
		}
		return fmt.Errorf("fi's refusals: %+v (pending %d, last error %q)", st.Refusals, st.Pending, st.LastPushError)
	})
	waitFor(t, 60*time.Second, "be's profile at the hub", func() error {
		if len(manifestOf(t, nw, "be")) != 1 {
			return fmt.Errorf("hub holds %d of be's entities", len(manifestOf(t, nw, "be")))
		}
		return nil
	})
	if got := manifestOf(t, nw, "fi"); len(got) != 0 {
		t.Fatalf("the hub holds fi's profile for be: %v", got)
	}

	for i := range 10 {
		rebuildPortal(t, nw)
		for _, page := range []string{"/help?country=be", "/directory"} {
			body := getBody(t, nw.hubURL+page)
			if !strings.Contains(body, "Child Focus") || strings.Contains(body, "Totally Official") || strings.Contains(body, "555 0100") {
				t.Fatalf("rebuild %d: %s does not show Belgium's own profile only:\n%s", i+1, page, body)
			}
		}
	}
}

// A push whose body lacks a seq of its header's range does not move the
// checkpoint past it, and the node's own push then delivers everything,
// in the same epoch.
func TestE2E_PushMissingLines(t *testing.T) {
	nw := newNetwork(t)
	be := nw.addNode("be", fastSync...)
	dir := t.TempDir()
	for i := range 5 {
		mustCLI(t, nil, "node", "create", "--kind", "resource", "--file", resourceJSON(t, dir, fmt.Sprintf("Lesson %d", i)), "--data", be.dir)
	}

	// What a proxy that drops a line would deliver: seqs 1-5 declared,
	// seq 3 missing, with the node's own credential and signed records.
	db := nodeDB(t, be)
	var cred, epoch string
	if err := db.QueryRow(`SELECT i.credential, s.epoch FROM identity i, sync_state s`).Scan(&cred, &epoch); err != nil {
		t.Fatal(err)
	}
	rows, err := db.Query(`SELECT seq, change, sig FROM outbox ORDER BY seq`)
	if err != nil {
		t.Fatal(err)
	}
	hdr, _ := json.Marshal(protocol.PushHeader{Node: "be", Epoch: epoch, FromSeq: 1, ToSeq: 5, HeadSeq: 5})
	body := append(hdr, '\n')
	for rows.Next() {
		var seq int64
		var s protocol.Signed
		var change []byte
		if err := rows.Scan(&seq, &change, &s.Sig); err != nil {
			t.Fatal(err)
		}
		s.Change = change
		if seq != 3 {
			body = append(protocol.AppendSigned(body, s), '\n')
		}
	}
	rows.Close()
	db.Close()
	req, _ := http.NewRequest(http.MethodPost, nw.hubURL+protocol.PathPush, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+cred)
	req.Header.Set("Content-Type", protocol.ContentTypeNDJSON)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var res protocol.PushResult
	json.NewDecoder(resp.Body).Decode(&res)
	resp.Body.Close()
	if resp.StatusCode != 200 || res.AppliedSeq != 2 || res.MissingSeq != 3 || res.Applied != 2 || len(res.Refused) != 0 {
		t.Fatalf("push without seq 3: %s %+v; want applied_seq 2, missing_seq 3", resp.Status, res)
	}
	if got := hubNode(t, nw, "be").AppliedSeq; got != 2 {
		t.Fatalf("hub checkpoint of be = %d, want 2", got)
	}

	nw.startNode(be)
	waitFor(t, 60*time.Second, "all of be's changes at the hub", func() error {
		st := nodeStatus(t, be)
		if n := len(manifestOf(t, nw, "be")); n != 5 || st.Pending != 0 {
			return fmt.Errorf("hub holds %d of 5, node has %d pending", n, st.Pending)
		}
		return nw.verify(be)
	})
	if st := nodeStatus(t, be); st.Epoch != epoch || len(st.Refusals) != 0 {
		t.Fatalf("node epoch %s (was %s), refusals %+v: want the same epoch and none", st.Epoch, epoch, st.Refusals)
	}
}

// A database read failing while the hub checks a change fails the push
// as retryable: nothing is applied or refused, and once the fault clears
// the node's change arrives.
func TestE2E_PushReadFailureIsRetried(t *testing.T) {
	fault := filepath.Join(t.TempDir(), "fault")
	if err := os.WriteFile(fault, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("BIKFED_TEST_FAULT_FILE", fault) // the hub inherits it
	nw := newNetwork(t)
	be := nw.addNode("be", fastSync...)
	dir := t.TempDir()
	att := filepath.Join(dir, "minutes.txt")
	if err := os.WriteFile(att, []byte("Minutes of the helpline meeting."), 0o600); err != nil {
		t.Fatal(err)
	}
	mustCLI(t, nil, "node", "create", "--kind", "resource", "--file", resourceJSON(t, dir, "Plain guide"), "--data", be.dir)
	mustCLI(t, nil, "node", "create", "--kind", "resource", "--file", resourceJSON(t, dir, "Guide with minutes"), "--attach", att, "--data", be.dir)
	nw.startNode(be)

	waitFor(t, 60*time.Second, "be's push to fail", func() error {
		if st := nodeStatus(t, be); !strings.Contains(st.LastPushError, string(protocol.CodeUnavailable)) {
			return fmt.Errorf("last push error %q", st.LastPushError)
		}
		return nil
	})
	hn := hubNode(t, nw, "be")
	if got := manifestOf(t, nw, "be"); len(got) != 0 || hn.AppliedSeq != 0 || hn.RefusalCount != 0 {
		t.Fatalf("during the fault the hub holds %v, checkpoint %d, %d refusals; want nothing", got, hn.AppliedSeq, hn.RefusalCount)
	}

	if err := os.Remove(fault); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 60*time.Second, "be's changes at the hub", func() error {
		if n := len(manifestOf(t, nw, "be")); n != 2 {
			return fmt.Errorf("hub holds %d of 2", n)
		}
		return nw.verify(be)
	})
	if st := nodeStatus(t, be); len(st.Refusals) != 0 || st.Pending != 0 {
		t.Fatalf("after the fault: refusals %+v, pending %d", st.Refusals, st.Pending)
	}
}

// A comment has its post's visibility and a translation names a resource
// the translator can see, at a version it has reached: the node's own
// checks refuse the rest, and the hub refuses it from a node that skips
// them, so no other node ever receives it.
func TestE2E_ReferenceRules(t *testing.T) {
	nw := newNetwork(t)
	be := nw.addNode("be", fastSync...)
	nw.startNode(be)
	dir := t.TempDir()
	thread := createdID(t, mustCLI(t, nil, "node", "create", "--kind", "post", "--visibility", "community",
		"--file", writeJSONFile(t, dir, "thread.json", protocol.Post{Space: "helplines", Format: "thread", Title: "Sextortion after the holidays",
			Text: "Are others seeing more cases?", Language: "en", Author: protocol.Author{Name: "Helpline coordinator", SIC: "be"}}), "--data", be.dir))
	guide := createdID(t, mustCLI(t, nil, "node", "create", "--kind", "resource", "--file", resourceJSON(t, dir, "Guide for parents"), "--data", be.dir))
	comment := func(vis protocol.Visibility) string {
		return writeJSONFile(t, dir, "comment-"+string(vis)+".json", protocol.Comment{Post: thread, Text: "Yes, twice as many.", Language: "en", Author: protocol.Author{Name: "Pieter", SIC: "be"}})
	}
	translation := func(source int64) string {
		return writeJSONFile(t, dir, fmt.Sprintf("tr-%d.json", source), protocol.Translation{Resource: guide, SourceVersion: source,
			Language: "fr", Title: "Guide pour les parents", Method: "human", Review: "reviewed"})
	}

	// The node's own checks.
	if _, err := runCLI(t, nil, "node", "create", "--kind", "comment", "--visibility", "youth", "--file", comment("youth"), "--data", be.dir); err == nil ||
		!strings.Contains(err.Error(), string(protocol.CodeVisibilityMismatch)) {
		t.Fatalf("youth comment on a community thread: %v", err)
	}
	if _, err := runCLI(t, nil, "node", "create", "--kind", "translation", "--visibility", "public", "--file", translation(7), "--data", be.dir); err == nil ||
		!strings.Contains(err.Error(), string(protocol.CodeInvalidSource)) {
		t.Fatalf("translation of version 7 of a version-1 resource: %v", err)
	}
	waitFor(t, 60*time.Second, "be's thread and guide at the hub", func() error {
		if n := len(manifestOf(t, nw, "be")); n != 2 {
			return fmt.Errorf("hub holds %d of 2", n)
		}
		return nil
	})

	// A node that skips them: the hub refuses by name.
	fi := newPusher(t, nw, "fi")
	sign := func(kind protocol.Kind, vis protocol.Visibility, body any) (protocol.Signed, string) {
		fi.seq++
		b, _ := json.Marshal(body)
		c := &protocol.Change{Protocol: protocol.Version, ID: fi.newID(), Kind: kind, Owner: "fi", Version: 1, Seq: fi.seq,
			UpdatedAt: time.Now().UTC(), Visibility: vis, Body: b}
		s, err := fi.key.Sign(c)
		if err != nil {
			t.Fatal(err)
		}
		return s, c.ID
	}
	youth, youthID := sign(protocol.KindComment, protocol.VisibilityYouth, protocol.Comment{Post: thread, Text: "hi", Language: "en", Author: protocol.Author{Pseudonym: "fi-kid"}})
	ahead, aheadID := sign(protocol.KindTranslation, protocol.VisibilityPublic, protocol.Translation{Resource: guide, SourceVersion: 7,
		Language: "fi", Title: "Opas", Method: "human", Review: "reviewed"})
	nowhere, nowhereID := sign(protocol.KindTranslation, protocol.VisibilityPublic, protocol.Translation{Resource: "be:01ARZ3NDEKTSV4RRFFQ69G5FAV",
		SourceVersion: 1, Language: "fi", Title: "Opas", Method: "human", Review: "reviewed"})
	good, goodID := sign(protocol.KindComment, protocol.VisibilityCommunity, protocol.Comment{Post: thread, Text: "Same here.", Language: "en", Author: protocol.Author{Name: "Mikko", SIC: "fi"}})
	res, status := fi.push(1, fi.seq, line(youth), line(ahead), line(nowhere), line(good))
	if status != 200 || res.Applied != 1 || res.AppliedSeq != fi.seq {
		t.Fatalf("push = %d %+v", status, res)
	}
	want := map[string]protocol.Code{youthID: protocol.CodeVisibilityMismatch, aheadID: protocol.CodeInvalidSource, nowhereID: protocol.CodeInvalidSource}
	for _, r := range res.Refused {
		if want[r.ID] != r.Code {
			t.Errorf("refusal of %s: %s, want %s", r.ID, r.Code, want[r.ID])
		}
		delete(want, r.ID)
	}
	if len(want) != 0 {
		t.Fatalf("not refused: %v", want)
	}

	// be receives the good comment and none of the others.
	waitFor(t, 60*time.Second, "be to pull fi's comment", func() error {
		_, err := runCLI(t, nil, "node", "get", goodID, "--data", be.dir)
		return err
	})
	for _, id := range []string{youthID, aheadID, nowhereID} {
		if out, err := runCLI(t, nil, "node", "get", id, "--data", be.dir); err == nil {
			t.Errorf("be holds the refused %s: %s", id, out)
		}
	}
	if ids := manifestOf(t, nw, "fi"); !slices.Equal(ids, []string{goodID}) {
		t.Errorf("hub holds fi's %v, want only %s", ids, goodID)
	}
}

// lineDropper is a proxy in front of the hub that loses one record line of
// the first push that has one to lose, as a broken proxy or middlebox might.
type lineDropper struct {
	t       *testing.T
	target  *url.URL
	dropped atomic.Bool
	pushes  atomic.Int32
}

func (d *lineDropper) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPost && r.URL.Path == protocol.PathPush {
		d.pushes.Add(1)
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		if r.Header.Get("Content-Encoding") == "zstd" {
			zr, err := zstd.NewReader(bytes.NewReader(body))
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadGateway)
				return
			}
			body, err = io.ReadAll(zr)
			zr.Close()
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadGateway)
				return
			}
			r.Header.Del("Content-Encoding")
		}
		lines := bytes.SplitAfter(body, []byte("\n"))
		// The header, then records: lose the third record of a batch of five
		// or more, once.
		if len(lines) >= 6 && d.dropped.CompareAndSwap(false, true) {
			lines = append(lines[:3:3], lines[4:]...)
		}
		body = bytes.Join(lines, nil)
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
	}
	httputil.NewSingleHostReverseProxy(d.target).ServeHTTP(w, r)
}

// A proxy that loses a record line of a push: the hub holds the checkpoint
// below the lost seq, and the node sends again from the checkpoint, in the
// same epoch, until everything has arrived.
func TestE2E_PushThroughLossyProxy(t *testing.T) {
	nw := newNetwork(t)
	target, _ := url.Parse(nw.hubURL)
	drop := &lineDropper{t: t, target: target}
	srv := httptest.NewServer(drop)
	t.Cleanup(srv.Close)

	be := &testNode{id: "be", dir: filepath.Join(nw.dir, "be"), extra: append([]string{"--push-batch", "5"}, fastSync...)}
	mustCLI(t, nil, "node", "init", "--data", be.dir, "--hub", srv.URL, "--token", nw.register("be"))
	nw.nodes["be"] = be
	dir := t.TempDir()
	for i := range 20 {
		mustCLI(t, nil, "node", "create", "--kind", "resource", "--file", resourceJSON(t, dir, fmt.Sprintf("Card %d", i)), "--data", be.dir)
	}
	epoch := nodeStatus(t, be).Epoch
	nw.startNode(be)
	waitFor(t, 60*time.Second, "all of be's changes at the hub", func() error {
		st := nodeStatus(t, be)
		if n := len(manifestOf(t, nw, "be")); n != 20 || st.Pending != 0 {
			return fmt.Errorf("hub holds %d of 20, node has %d pending", n, st.Pending)
		}
		return nw.verify(be)
	})
	if !drop.dropped.Load() {
		t.Fatal("the proxy dropped no line: the test proved nothing")
	}
	st := nodeStatus(t, be)
	if st.Epoch != epoch || len(st.Refusals) != 0 || st.PushCheckpoint != 20 {
		t.Fatalf("node epoch %s (was %s), checkpoint %d, refusals %+v: want the same epoch, 20, none", st.Epoch, epoch, st.PushCheckpoint, st.Refusals)
	}
	if hn := hubNode(t, nw, "be"); hn.AppliedSeq != 20 || hn.RefusalCount != 0 {
		t.Fatalf("hub: checkpoint %d, %d refusals", hn.AppliedSeq, hn.RefusalCount)
	}
}
