package node

import (
	"compress/gzip"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/bikfed/bikfed/protocol"
)

// fakeHub implements just enough of the hub's sync API, following the brief,
// for the node's unit tests: enrol, push, changes, keys, manifest.
type fakeHub struct {
	t   *testing.T
	srv *httptest.Server
	key protocol.Key

	mu       sync.Mutex
	keys     map[string]protocol.KeyInfo
	creds    map[string]string // credential -> node
	nodes    map[string]*fakeNodeState
	rows     map[string]*fakeRow
	bySeq    []*fakeRow // in hub_seq order; superseded rows are skipped
	hubSeq   int64
	refuse   map[string]protocol.Code // entity id -> refusal code, for tests
	pushes   int
	notify   chan struct{}
	maxWait  time.Duration
	failNext int // fail this many requests with 503
	// acks are the erasure acknowledgements received, per node.
	acks map[string][]int64
	// erasureHolders are the nodes the status of an erasure names as its
	// holders; groups the labels nodes gave, per entity id.
	erasureHolders []string
	groups         map[string]string
	// incarnations are the hub's starts, oldest first, with the hub_seq
	// each began at; the last is the current one.
	incarnations []fakeIncarnation
	// clockOffset is how far the hub's clock is from the test's.
	clockOffset time.Duration
}

type fakeIncarnation struct {
	id    string
	start int64
}

type fakeNodeState struct {
	epoch   string
	applied int64
}

type fakeRow struct {
	id      string
	owner   string
	version int64
	hubSeq  int64
	signed  protocol.Signed
	hash    [32]byte
	erased  bool
}

func newFakeHub(t *testing.T) *fakeHub {
	t.Helper()
	hk, err := protocol.GenerateKey(protocol.HubID)
	if err != nil {
		t.Fatal(err)
	}
	h := &fakeHub{
		t: t, key: hk,
		keys:    map[string]protocol.KeyInfo{},
		creds:   map[string]string{},
		nodes:   map[string]*fakeNodeState{},
		rows:    map[string]*fakeRow{},
		refuse:  map[string]protocol.Code{},
		acks:    map[string][]int64{},
		groups:  map[string]string{},
		notify:  make(chan struct{}),
		maxWait: 30 * time.Second,
	}
	h.addKey(hk)
	h.restart()
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+protocol.PathEnrol, h.enrol)
	mux.HandleFunc("POST "+protocol.PathPush, h.auth(h.push))
	mux.HandleFunc("GET "+protocol.PathChanges, h.auth(h.changes))
	mux.HandleFunc("GET "+protocol.PathKeys, h.keyDir)
	mux.HandleFunc("GET "+protocol.PathManifest, h.auth(h.manifest))
	mux.HandleFunc("POST "+protocol.PathErasureAck, h.auth(h.ackErasures))
	mux.HandleFunc("POST "+protocol.PathErasureStatus, h.auth(h.erasureStatus))
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.mu.Lock()
		fail := h.failNext > 0
		if fail {
			h.failNext--
		}
		h.mu.Unlock()
		h.mu.Lock()
		hubNow := time.Now().Add(h.clockOffset)
		h.mu.Unlock()
		w.Header().Set(protocol.HeaderHubTime, protocol.FormatHubTime(hubNow))
		if fail {
			hubError(w, protocol.Errorf(protocol.CodeUnavailable, "down for the test"))
			return
		}
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *fakeHub) URL() string { return h.srv.URL }

func (h *fakeHub) addKey(k protocol.Key) {
	owner, _, _ := strings.Cut(k.ID, "-")
	h.keys[k.ID] = protocol.KeyInfo{KeyID: k.ID, Owner: owner, PublicKey: k.Public(), CreatedAt: time.Now()}
}

// token issues an enrolment token for node.
func (h *fakeHub) token(node string) string { return node + ".secret-" + strconv.Itoa(len(h.creds)) }

func hubError(w http.ResponseWriter, e *protocol.Error) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(protocol.HTTPStatus(e.Code))
	json.NewEncoder(w).Encode(protocol.ErrorResponse{Error: e})
}

func hubJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

func (h *fakeHub) auth(next func(w http.ResponseWriter, r *http.Request, node string)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		cred, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		h.mu.Lock()
		node, ok := h.creds[cred]
		h.mu.Unlock()
		if !ok {
			hubError(w, protocol.Errorf(protocol.CodeUnauthorized, "bad credential"))
			return
		}
		next(w, r, node)
	}
}

func (h *fakeHub) enrol(w http.ResponseWriter, r *http.Request) {
	var req protocol.EnrolRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		hubError(w, protocol.Errorf(protocol.CodeMalformedJSON, "%v", err))
		return
	}
	if !strings.HasPrefix(req.Token, req.Node+".") || req.KeyID != protocol.KeyID(req.Node, req.PublicKey) {
		hubError(w, protocol.Errorf(protocol.CodeUnauthorized, "bad token or key"))
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.keys[req.KeyID] = protocol.KeyInfo{KeyID: req.KeyID, Owner: req.Node, PublicKey: req.PublicKey, CreatedAt: time.Now()}
	cred := req.Node + ".cred-" + strconv.Itoa(len(h.creds))
	for c, n := range h.creds {
		if n == req.Node {
			delete(h.creds, c)
		}
	}
	h.creds[cred] = req.Node
	h.nodes[req.Node] = &fakeNodeState{epoch: req.Epoch}
	hubJSON(w, protocol.EnrolResponse{Node: req.Node, Name: strings.ToUpper(req.Node), Credential: cred, Protocol: protocol.Version, HubSeq: h.hubSeq})
}

func (h *fakeHub) push(w http.ResponseWriter, r *http.Request, node string) {
	var body io.Reader = r.Body
	switch enc := r.Header.Get("Content-Encoding"); enc {
	case "gzip":
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			hubError(w, protocol.Errorf(protocol.CodeBadRequest, "gzip: %v", err))
			return
		}
		body = zr
	case "zstd":
		zr, err := zstd.NewReader(r.Body, zstd.WithDecoderConcurrency(1))
		if err != nil {
			hubError(w, protocol.Errorf(protocol.CodeBadRequest, "zstd: %v", err))
			return
		}
		defer zr.Close()
		body = zr
	case "":
	default:
		hubError(w, protocol.Errorf(protocol.CodeBadRequest, "unsupported Content-Encoding %q", enc))
		return
	}
	pr, err := protocol.NewPushReader(body)
	if err != nil {
		hubError(w, err.(*protocol.Error))
		return
	}
	hd := pr.Header()
	if hd.Node != node {
		hubError(w, protocol.Errorf(protocol.CodeForbidden, "not your node"))
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	ns := h.nodes[node]
	if hd.Epoch != ns.epoch {
		if hd.FromSeq != 1 {
			hubError(w, protocol.Errorf(protocol.CodeEpochMismatch, "epoch %s, hub has %s", hd.Epoch, ns.epoch))
			return
		}
		ns.epoch, ns.applied = hd.Epoch, 0
	}
	if hd.FromSeq > ns.applied+1 {
		hubError(w, protocol.Errorf(protocol.CodeSeqGap, "from_seq %d but applied_seq is %d", hd.FromSeq, ns.applied))
		return
	}
	h.pushes++ // accepted ones
	res := protocol.PushResult{Node: node, Epoch: ns.epoch}
	lookup := h.lookup()
	for {
		rec, err := pr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			hubError(w, protocol.Errorf(protocol.CodeBadRequest, "%v", err))
			return
		}
		if rec.Refusal != nil {
			res.Refused = append(res.Refused, *rec.Refusal)
			continue
		}
		c, err := protocol.Verify(rec.Signed, lookup)
		if c != nil && c.Seq <= ns.applied {
			res.Duplicates++
			continue
		}
		refuse := func(code protocol.Code, reason string) {
			rf := protocol.Refusal{Line: rec.Line, Code: code, Reason: reason, At: time.Now()}
			if c != nil {
				rf.ID, rf.Version, rf.Seq = c.ID, c.Version, c.Seq
			}
			res.Refused = append(res.Refused, rf)
		}
		if err != nil {
			refuse(protocol.ErrorCode(err), err.Error())
			continue
		}
		if code, ok := h.refuse[c.ID]; ok {
			refuse(code, "refused by the test")
			continue
		}
		if c.Owner != node {
			refuse(protocol.CodeNotOwner, "not yours")
			continue
		}
		hash := rec.Signed.Hash()
		if cur, ok := h.rows[c.ID]; ok {
			switch {
			case cur.version == c.Version && cur.hash == hash:
				res.Duplicates++
				continue
			case cur.version > c.Version:
				refuse(protocol.CodeStaleVersion, fmt.Sprintf("replayed older version: have v%d, got v%d", cur.version, c.Version))
				continue
			case cur.version == c.Version:
				refuse(protocol.CodeVersionConflict, "same version, other bytes")
				continue
			case cur.erased:
				refuse(protocol.CodeErased, "erased")
				continue
			}
		}
		h.putLocked(c, rec.Signed)
		res.Applied++
	}
	ns.applied = max(ns.applied, hd.ToSeq)
	res.AppliedSeq = ns.applied
	res.HubSeq = h.hubSeq
	hubJSON(w, res)
}

func (h *fakeHub) lookup() protocol.KeyLookup {
	d := protocol.KeyDirectory{}
	for _, k := range h.keys {
		d.Keys = append(d.Keys, k)
	}
	return d.Lookup()
}

// putLocked stores a change as the latest version; the caller holds mu.
func (h *fakeHub) putLocked(c *protocol.Change, s protocol.Signed) {
	h.hubSeq++
	row := &fakeRow{id: c.ID, owner: c.Owner, version: c.Version, hubSeq: h.hubSeq, signed: s, hash: s.Hash(), erased: c.Erased}
	h.rows[c.ID] = row
	h.bySeq = append(h.bySeq, row)
	close(h.notify)
	h.notify = make(chan struct{})
}

// inject stores a signed change as if pushed, without any check.
func (h *fakeHub) inject(c *protocol.Change, s protocol.Signed) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.putLocked(c, s)
}

// author signs and injects a change by key's owner.
func (h *fakeHub) author(t *testing.T, k protocol.Key, c protocol.Change) protocol.Signed {
	t.Helper()
	owner, _, _ := strings.Cut(k.ID, "-")
	c.Protocol, c.Owner, c.KeyID = protocol.Version, owner, k.ID
	if c.ID == "" {
		id, err := protocol.NewEntityID(owner, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		c.ID = id
	}
	if c.Version == 0 {
		c.Version = 1
	}
	if c.Seq == 0 {
		c.Seq = 1
	}
	if c.UpdatedAt.IsZero() {
		c.UpdatedAt = time.Now().UTC()
	}
	if c.Visibility == "" {
		c.Visibility = protocol.VisibilityPublic
	}
	s, err := k.Sign(&c)
	if err != nil {
		t.Fatal(err)
	}
	h.inject(&c, s)
	return s
}

// remoteKey registers a key for another node, as enrolment would.
func (h *fakeHub) remoteKey(t *testing.T, owner string) protocol.Key {
	t.Helper()
	k, err := protocol.GenerateKey(owner)
	if err != nil {
		t.Fatal(err)
	}
	h.mu.Lock()
	h.addKey(k)
	h.mu.Unlock()
	return k
}

func (h *fakeHub) changes(w http.ResponseWriter, r *http.Request, node string) {
	since, _ := strconv.ParseInt(r.URL.Query().Get("since"), 10, 64)
	limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
	if limit <= 0 || limit > protocol.MaxFeedPage {
		limit = protocol.MaxFeedPage
	}
	wait, _ := time.ParseDuration(r.URL.Query().Get("wait"))
	deadline := time.Now().Add(min(wait, h.maxWait))
	for {
		h.mu.Lock()
		if h.hubSeq > since || time.Now().After(deadline) {
			break
		}
		ch := h.notify
		h.mu.Unlock()
		select {
		case <-ch:
		case <-time.After(time.Until(deadline)):
		case <-r.Context().Done():
			return
		}
	}
	var page []*fakeRow
	start, _ := slices.BinarySearchFunc(h.bySeq, since+1, func(r *fakeRow, seq int64) int { return int(r.hubSeq - seq) })
	more := false
	for _, row := range h.bySeq[start:] {
		if h.rows[row.id] != row {
			continue // superseded by a later version
		}
		if len(page) == limit {
			more = true
			break
		}
		page = append(page, row)
	}
	next := since
	if len(page) > 0 {
		next = page[len(page)-1].hubSeq
	}
	ns := h.nodes[node]
	you := protocol.Checkpoint{Epoch: ns.epoch, AppliedSeq: ns.applied}
	hubSeq := h.hubSeq
	cur := h.incarnations[len(h.incarnations)-1]
	w.Header().Set(protocol.HeaderIncarnation, cur.id)
	if known := r.URL.Query().Get("incarnation"); known != "" && known != cur.id {
		end := int64(0)
		for i, inc := range h.incarnations[:len(h.incarnations)-1] {
			if inc.id == known {
				end = h.incarnations[i+1].start
			}
		}
		w.Header().Set(protocol.HeaderLineageSeq, strconv.FormatInt(end, 10))
	}
	buf := fmt.Appendf(nil, `{"hub_seq":%d,"next":%d,"more":%t,"you":{"epoch":%q,"applied_seq":%d},"changes":[`,
		hubSeq, next, more, you.Epoch, you.AppliedSeq)
	for i, row := range page {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = protocol.AppendFeedItem(buf, row.hubSeq, row.signed)
	}
	h.mu.Unlock()
	buf = append(buf, "]}"...)
	w.Header().Set("Content-Type", "application/json")
	w.Write(buf)
}

func (h *fakeHub) keyDir(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	d := protocol.KeyDirectory{}
	for _, k := range h.keys {
		d.Keys = append(d.Keys, k)
	}
	h.mu.Unlock()
	hubJSON(w, d)
}

func (h *fakeHub) manifest(w http.ResponseWriter, r *http.Request, node string) {
	only := r.URL.Query().Get("owner")
	h.mu.Lock()
	ids := make([]string, 0, len(h.rows))
	for id := range h.rows {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	digests := map[string]*protocol.Digest{}
	m := protocol.Manifest{HubSeq: h.hubSeq}
	for _, id := range ids {
		row := h.rows[id]
		d := digests[row.owner]
		if d == nil {
			d = protocol.NewDigest()
			digests[row.owner] = d
		}
		d.Add(id, row.version, row.hash[:])
		if row.owner == only {
			m.Entries = append(m.Entries, protocol.ManifestEntry{ID: id, Version: row.version, Hash: hex.EncodeToString(row.hash[:])})
		}
	}
	h.mu.Unlock()
	for owner, d := range digests {
		m.Owners = append(m.Owners, protocol.OwnerDigest{Owner: owner, Count: d.Count(), Digest: d.Sum()})
	}
	slices.SortFunc(m.Owners, func(a, b protocol.OwnerDigest) int { return strings.Compare(a.Owner, b.Owner) })
	hubJSON(w, m)
}

func (h *fakeHub) setFailNext(k int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.failNext = k
}

func (h *fakeHub) setRefuse(id string, code protocol.Code) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.refuse[id] = code
}

func (h *fakeHub) pushCount() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.pushes
}

// row returns the hub's copy of an entity.
func (h *fakeHub) row(id string) (fakeRow, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	r, ok := h.rows[id]
	if !ok {
		return fakeRow{}, false
	}
	return *r, true
}

func (h *fakeHub) checkpoint(node string) fakeNodeState {
	h.mu.Lock()
	defer h.mu.Unlock()
	return *h.nodes[node]
}

// ackErasures records an erasure acknowledgement.
func (h *fakeHub) ackErasures(w http.ResponseWriter, r *http.Request, node string) {
	a, err := protocol.DecodeErasureAck(r.Body)
	if err != nil {
		var pe *protocol.Error
		if !errors.As(err, &pe) {
			pe = protocol.Errorf(protocol.CodeBadRequest, "%v", err)
		}
		hubError(w, pe)
		return
	}
	h.mu.Lock()
	h.acks[node] = append(h.acks[node], a.HubSeqs...)
	h.mu.Unlock()
	hubJSON(w, protocol.ErasureAckResult{Acknowledged: a.HubSeqs})
}

// erasureStatus answers as the hub does: an erased row's hub_seq, with
// erasureHolders as its holders, complete once all of them acknowledged it.
func (h *fakeHub) erasureStatus(w http.ResponseWriter, r *http.Request, node string) {
	q, err := protocol.DecodeErasureStatus(r.Body)
	if err != nil {
		var pe *protocol.Error
		if !errors.As(err, &pe) {
			pe = protocol.Errorf(protocol.CodeBadRequest, "%v", err)
		}
		hubError(w, pe)
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	res := protocol.ErasureStatusResult{}
	for _, id := range q.IDs {
		st := protocol.ErasureState{ID: id, Holders: []protocol.HolderState{}}
		if row, ok := h.rows[id]; ok && row.erased {
			st.HubSeq, st.Complete = row.hubSeq, true
			for _, holder := range h.erasureHolders {
				acked := slices.Contains(h.acks[holder], row.hubSeq)
				st.Holders = append(st.Holders, protocol.HolderState{Node: holder, Acked: acked})
				st.Complete = st.Complete && acked
			}
		}
		if q.Group != "" {
			h.groups[id] = q.Group
		}
		res.Erasures = append(res.Erasures, st)
	}
	hubJSON(w, res)
}

// acked returns the erasure acknowledgements node sent.
func (h *fakeHub) acked(node string) []int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.acks[node])
}

// restart starts a new incarnation of the hub, as a restart of its server does.
func (h *fakeHub) restart() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.incarnations = append(h.incarnations, fakeIncarnation{id: fmt.Sprintf("inc-%d-%d", len(h.incarnations), time.Now().UnixNano()), start: h.hubSeq})
}

// fakeHubState is a copy of the hub's database, for restoring it.
type fakeHubState struct {
	nodes        map[string]fakeNodeState
	rows         map[string]*fakeRow
	bySeq        []*fakeRow
	hubSeq       int64
	incarnations []fakeIncarnation
}

// snapshot copies the hub's database, as a backup would.
func (h *fakeHub) snapshot() fakeHubState {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := fakeHubState{nodes: map[string]fakeNodeState{}, rows: map[string]*fakeRow{}, hubSeq: h.hubSeq,
		incarnations: slices.Clone(h.incarnations)}
	for id, ns := range h.nodes {
		s.nodes[id] = fakeNodeState{epoch: ns.epoch, applied: ns.applied}
	}
	copies := map[*fakeRow]*fakeRow{}
	for _, r := range h.bySeq {
		c := *r
		copies[r] = &c
		s.bySeq = append(s.bySeq, &c)
	}
	for id, r := range h.rows {
		s.rows[id] = copies[r]
	}
	return s
}

// restore replaces the hub's database with an earlier snapshot and starts
// the hub again: the rows, checkpoints and incarnations written since are gone.
func (h *fakeHub) restore(s fakeHubState) {
	h.mu.Lock()
	h.rows, h.bySeq, h.hubSeq, h.incarnations = s.rows, s.bySeq, s.hubSeq, s.incarnations
	for id, ns := range s.nodes {
		h.nodes[id].epoch, h.nodes[id].applied = ns.epoch, ns.applied
	}
	h.mu.Unlock()
	h.restart()
}
