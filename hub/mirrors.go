package hub

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/bikfed/bikfed/hub/portal"
	"github.com/bikfed/bikfed/protocol"
)

// Mirrors (docs/scale.md) are read-only replicas of the public portal. A
// mirror enrols with a one-time token, then long-polls the changes feed
// with its credential and is sent only what publicChanges selects: the
// public versions of entities and a withdrawal for each entity that was
// public and is not any more. The hub's own portal reads the same
// selection, so the hub and every mirror index the same input and serve
// the same pages with the same ETags. A mirror is a holder of every erasure
// of an entity that was ever public, and acknowledges it once purged.

// mirrorLiveWithin is how recently a mirror must have pulled to count as
// live: it long-polls, so a live mirror asks at least every long-poll.
const mirrorLiveWithin = 60 * time.Second

// mirrorState is the in-memory copy of a mirror's row.
type mirrorState struct {
	credHash   []byte
	enrolledAt time.Time
	cursor     int64
	lastPullAt time.Time
	dirty      bool // cursor or lastPullAt not yet written
	removed    bool
}

// MirrorStatus is a mirror as the console and the admin API show it.
type MirrorStatus struct {
	Name       string     `json:"name"`
	EnrolledAt *time.Time `json:"enrolled_at,omitempty"`
	LastPullAt *time.Time `json:"last_pull_at,omitempty"`
	// Cursor is the hub_seq up to which the mirror holds the public feed.
	Cursor int64 `json:"cursor"`
	HubSeq int64 `json:"hub_seq"`
	// Lag is how many hub_seqs the mirror has not pulled yet.
	Lag  int64 `json:"lag"`
	Live bool  `json:"live"`
}

var errBadMirrorToken = protocol.Errorf(protocol.CodeUnauthorized, "mirror enrolment token is not valid")

// RegisterMirror registers mirror name (again, for a mirror that lost its
// credential) and returns a one-time enrolment token
// "mirror:<name>.<secret>", valid for Config.EnrolTokenTTL. Earlier unused
// tokens of the mirror stop working.
func (h *Hub) RegisterMirror(ctx context.Context, name string) (string, error) {
	if err := protocol.ValidMirrorName(name); err != nil {
		return "", fmt.Errorf("register mirror: %w", protocol.Errorf(protocol.CodeInvalidField, "%v", err))
	}
	secret, err := randomSecret()
	if err != nil {
		return "", fmt.Errorf("register mirror %s: %w", name, err)
	}
	hash := sha256.Sum256([]byte(secret))
	now := h.now()
	err = h.db.WriteTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO mirrors (name, created_at) VALUES (?, ?)
			ON CONFLICT (name) DO UPDATE SET removed_at = NULL`, name, toMillis(now)); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM mirror_tokens WHERE mirror = ? AND used_at IS NULL`, name); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO mirror_tokens (secret_hash, mirror, created_at, expires_at) VALUES (?, ?, ?, ?)`,
			hash[:], name, toMillis(now), toMillis(now.Add(h.cfg.EnrolTokenTTL)))
		return err
	})
	if err != nil {
		return "", fmt.Errorf("register mirror %s: %w", name, err)
	}
	h.mu.Lock()
	if h.mirrors[name] == nil {
		h.mirrors[name] = &mirrorState{}
	}
	h.mirrors[name].removed = false
	h.mu.Unlock()
	h.log.Info("mirror registered", "mirror", name)
	return protocol.MirrorPrefix + name + "." + secret, nil
}

// ErrNoMirror is the answer for a mirror that is not registered.
var ErrNoMirror = protocol.Errorf(protocol.CodeNotFound, "no such mirror")

// RemoveMirror deregisters a mirror for good: its credential stops working
// at once, and the erasures it has not acknowledged stop waiting for it
// (its data directory is to be deleted with it). Registering the name
// again enrols a new mirror from nothing.
func (h *Hub) RemoveMirror(ctx context.Context, name string) error {
	now := h.now()
	err := h.db.WriteTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE mirrors SET removed_at = ?, credential_hash = NULL WHERE name = ? AND removed_at IS NULL`, toMillis(now), name)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrNoMirror
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM erasure_holders WHERE node = ? AND acked_at IS NULL`, protocol.MirrorHolder(name))
		return err
	})
	if err != nil {
		return fmt.Errorf("remove mirror %s: %w", name, err)
	}
	h.mu.Lock()
	if m := h.mirrors[name]; m != nil {
		m.removed, m.credHash = true, nil
	}
	h.mu.Unlock()
	h.log.Info("mirror removed", "mirror", name)
	h.kickHousekeeping()
	return nil
}

// splitMirrorToken splits "mirror:<name>.<secret>".
func splitMirrorToken(tok string) (name, secret string, ok bool) {
	rest, ok := strings.CutPrefix(tok, protocol.MirrorPrefix)
	if !ok {
		return "", "", false
	}
	name, secret, ok = strings.Cut(rest, ".")
	if !ok || protocol.ValidMirrorName(name) != nil || len(secret) < 32 || len(secret) > 128 {
		return "", "", false
	}
	return name, secret, true
}

// enrolMirror spends a mirror's one-time token and issues its credential.
// A later enrolment of the same mirror replaces its credential.
func (h *Hub) enrolMirror(ctx context.Context, token string) (*protocol.MirrorEnrolResponse, error) {
	name, secret, ok := splitMirrorToken(token)
	if !ok {
		return nil, errBadMirrorToken
	}
	credSecret, err := randomSecret()
	if err != nil {
		return nil, fmt.Errorf("enrol mirror %s: %w", name, err)
	}
	cred := protocol.MirrorPrefix + name + "." + credSecret
	credHash := sha256.Sum256([]byte(cred))
	tokHash := sha256.Sum256([]byte(secret))
	now := h.now()
	err = h.db.WriteTx(ctx, func(tx *sql.Tx) error {
		var mirror string
		var expires int64
		var used sql.NullInt64
		err := tx.QueryRowContext(ctx, `SELECT mirror, expires_at, used_at FROM mirror_tokens WHERE secret_hash = ?`, tokHash[:]).
			Scan(&mirror, &expires, &used)
		if errors.Is(err, sql.ErrNoRows) || (err == nil && mirror != name) {
			return errBadMirrorToken
		}
		if err != nil {
			return err
		}
		if used.Valid {
			return protocol.Errorf(protocol.CodeUnauthorized, "mirror enrolment token has already been used; register the mirror again for a new one")
		}
		if now.UnixMilli() >= expires {
			return protocol.Errorf(protocol.CodeUnauthorized, "mirror enrolment token has expired; register the mirror again for a new one")
		}
		if _, err := tx.ExecContext(ctx, `UPDATE mirror_tokens SET used_at = ? WHERE secret_hash = ?`, toMillis(now), tokHash[:]); err != nil {
			return err
		}
		// A re-enrolled mirror starts from nothing: its cursor is its own
		// to report, from its first pull.
		_, err = tx.ExecContext(ctx, `UPDATE mirrors SET credential_hash = ?, enrolled_at = ?, cursor = 0, removed_at = NULL WHERE name = ?`,
			credHash[:], toMillis(now), name)
		return err
	})
	if err != nil {
		var pe *protocol.Error
		if errors.As(err, &pe) {
			return nil, pe
		}
		return nil, fmt.Errorf("enrol mirror %s: %w", name, err)
	}
	h.mu.Lock()
	m := h.mirrors[name]
	if m == nil {
		m = &mirrorState{}
		h.mirrors[name] = m
	}
	m.credHash, m.enrolledAt, m.cursor, m.removed = credHash[:], now, 0, false
	h.mu.Unlock()
	h.log.Info("mirror enrolled", "mirror", name)
	res := &protocol.MirrorEnrolResponse{Name: name, Credential: cred, Protocol: protocol.Version,
		PublicURL: h.cfg.PublicURL, OAIAdminEmail: h.cfg.OAIAdminEmail, OAIRepositoryName: h.cfg.OAIRepositoryName}
	if h.portal != nil {
		res.OAIKey = h.portal.OAIKey()
	}
	return res, nil
}

// authenticateMirror checks a mirror credential from memory.
func (h *Hub) authenticateMirror(tok string) (string, bool) {
	name, _, ok := splitMirrorToken(tok)
	if !ok {
		return "", false
	}
	sum := sha256.Sum256([]byte(tok))
	h.mu.Lock()
	m := h.mirrors[name]
	var want []byte
	if m != nil && !m.removed {
		want = m.credHash
	}
	h.mu.Unlock()
	return name, len(want) == len(sum) && subtle.ConstantTimeCompare(sum[:], want) == 1
}

// loadMirrors reads the mirrors' rows into memory at Open.
func (h *Hub) loadMirrors(ctx context.Context) error {
	rows, err := h.db.Reader().QueryContext(ctx, `SELECT name, credential_hash, enrolled_at, cursor, last_pull_at, removed_at IS NOT NULL FROM mirrors`)
	if err != nil {
		return fmt.Errorf("load mirrors: %w", err)
	}
	defer rows.Close()
	h.mu.Lock()
	defer h.mu.Unlock()
	for rows.Next() {
		var name string
		var m mirrorState
		var enrolled, pulled sql.NullInt64
		if err := rows.Scan(&name, &m.credHash, &enrolled, &m.cursor, &pulled, &m.removed); err != nil {
			return fmt.Errorf("load mirrors: %w", err)
		}
		if enrolled.Valid {
			m.enrolledAt = fromMillis(enrolled.Int64)
		}
		if pulled.Valid {
			m.lastPullAt = fromMillis(pulled.Int64)
		}
		h.mirrors[name] = &m
	}
	return rows.Err()
}

// recordMirrorPull notes a mirror's cursor: everything up to since is
// stored on the mirror, which asks from where its own database stands.
func (h *Hub) recordMirrorPull(name string, since int64) {
	now := h.now()
	h.mu.Lock()
	if m := h.mirrors[name]; m != nil {
		m.cursor, m.lastPullAt, m.dirty = since, now, true
	}
	h.mu.Unlock()
}

// flushMirrors writes the mirrors' cursors, with the nodes' (housekeeping).
func (h *Hub) flushMirrors(ctx context.Context) error {
	type row struct {
		name   string
		cursor int64
		at     time.Time
	}
	var dirty []row
	h.mu.Lock()
	for name, m := range h.mirrors {
		if m.dirty {
			dirty = append(dirty, row{name, m.cursor, m.lastPullAt})
			m.dirty = false
		}
	}
	h.mu.Unlock()
	if len(dirty) == 0 {
		return nil
	}
	err := h.db.WriteTx(ctx, func(tx *sql.Tx) error {
		for _, d := range dirty {
			if _, err := tx.ExecContext(ctx, `UPDATE mirrors SET cursor = ?, last_pull_at = ? WHERE name = ?`,
				d.cursor, toMillis(d.at), d.name); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		h.mu.Lock()
		for _, d := range dirty {
			if m := h.mirrors[d.name]; m != nil {
				m.dirty = true
			}
		}
		h.mu.Unlock()
		return fmt.Errorf("flush mirror cursors: %w", err)
	}
	return nil
}

// Mirrors lists the registered mirrors with their lag and liveness.
func (h *Hub) Mirrors() []MirrorStatus {
	head := h.head.Load()
	now := h.now()
	h.mu.Lock()
	out := make([]MirrorStatus, 0, len(h.mirrors))
	for name, m := range h.mirrors {
		if m.removed {
			continue
		}
		s := MirrorStatus{Name: name, Cursor: m.cursor, HubSeq: head, Lag: max(head-m.cursor, 0)}
		if !m.enrolledAt.IsZero() {
			t := m.enrolledAt
			s.EnrolledAt = &t
		}
		if !m.lastPullAt.IsZero() {
			t := m.lastPullAt
			s.LastPullAt = &t
			s.Live = now.Sub(t) < mirrorLiveWithin
		}
		out = append(out, s)
	}
	h.mu.Unlock()
	slices.SortFunc(out, func(a, b MirrorStatus) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// publicChange is one item of the public selection: a public version of
// an entity, or (Raw nil) the withdrawal of one that was public.
type publicChange struct {
	hubSeq    int64
	id        string
	raw, sig  []byte
	appliedAt int64
	erased    bool
}

// queryer is what publicChanges reads through: the reader pool or a
// transaction.
type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// publicChanges is the hub's one selection of what public holders are
// given, after hub_seq since, at most limit items: every entity some
// version of which was public (ever_public, set from Change.Public at
// apply), as its public version or as a withdrawal. The portal's index and
// every mirror read exactly this.
func publicChanges(ctx context.Context, q queryer, since int64, limit int) ([]publicChange, error) {
	rows, err := q.QueryContext(ctx, `SELECT hub_seq, id, visibility, erased, applied_at, change, sig FROM entities
		WHERE ever_public = 1 AND hub_seq > ? ORDER BY hub_seq LIMIT ?`, since, limit)
	if err != nil {
		return nil, fmt.Errorf("read public changes: %w", err)
	}
	defer rows.Close()
	var out []publicChange
	for rows.Next() {
		var pc publicChange
		var vis string
		var raw, sig []byte
		if err := rows.Scan(&pc.hubSeq, &pc.id, &vis, &pc.erased, &pc.appliedAt, &raw, &sig); err != nil {
			return nil, fmt.Errorf("read public changes: %w", err)
		}
		if protocol.Visibility(vis).Public() {
			pc.raw, pc.sig, pc.erased = raw, sig, false
		}
		out = append(out, pc)
	}
	return out, rows.Err()
}

// toPortal gives the portal's indexer a public change.
func (pc publicChange) toPortal() portal.Change {
	c := portal.Change{HubSeq: pc.hubSeq, AppliedAt: time.UnixMilli(pc.appliedAt)}
	if pc.raw == nil {
		c.ID, c.Erased = pc.id, pc.erased
	} else {
		c.Raw = pc.raw
	}
	return c
}

// handleMirrorChanges is GET /v1/changes for a mirror's credential: the
// public selection, long-polled like a node's feed.
func (h *Hub) handleMirrorChanges(w http.ResponseWriter, r *http.Request, name string, since int64, limit int, wait time.Duration) {
	h.recordMirrorPull(name, since)
	if wait > 0 && h.head.Load() <= since {
		release, ok := h.longPollSlot(protocol.MirrorHolder(name))
		if !ok {
			tooBusy(w, http.StatusTooManyRequests, protocol.CodeTooManyRequests, longPollRetry,
				fmt.Sprintf("this credential already holds %d long-polls", h.limits.cfg.LongPollsPerCredential))
			return
		}
		h.waitForChanges(r.Context(), since, wait)
		release()
		if _, ok := h.authenticateMirror(strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")); !ok {
			h.writeError(w, r, protocol.Errorf(protocol.CodeUnauthorized, "the mirror was removed"))
			return
		}
	}
	w.Header().Set(protocol.HeaderHubTime, protocol.FormatHubTime(h.now()))
	var page []byte
	err := h.db.ReadTx(r.Context(), func(tx *sql.Tx) error {
		var head int64
		if err := tx.QueryRowContext(r.Context(), `SELECT COALESCE(MAX(hub_seq), 0) FROM entities`).Scan(&head); err != nil {
			return err
		}
		items, err := publicChanges(r.Context(), tx, since, limit+1)
		if err != nil {
			return err
		}
		more := len(items) > limit
		page = append(page[:0], `{"changes":[`...)
		// Past the last item read, nothing up to the head is public: the
		// cursor moves to the head, so a mirror does not ask again for
		// what holds nothing for it.
		next := max(head, since)
		maxBytes := h.limits.cfg.FeedPageBytes
		for i, pc := range items {
			if i == limit {
				break
			}
			mark := len(page)
			if i > 0 {
				page = append(page, ',')
			}
			page = protocol.AppendMirrorFeedItem(page, protocol.MirrorFeedItem{HubSeq: pc.hubSeq,
				Signed: protocol.Signed{Change: pc.raw, Sig: pc.sig}, AppliedAt: pc.appliedAt, Withdrawn: withdrawnID(pc), Erased: pc.erased})
			if i > 0 && len(page) > maxBytes {
				page, more = page[:mark], true
				next = items[i-1].hubSeq
				break
			}
			if more {
				next = pc.hubSeq
			}
		}
		page = append(page, `],"hub_seq":`...)
		page = strconv.AppendInt(page, head, 10)
		page = append(page, `,"next":`...)
		page = strconv.AppendInt(page, next, 10)
		page = append(page, `,"more":`...)
		page = strconv.AppendBool(page, more)
		page = append(page, '}')
		return nil
	})
	if err != nil {
		h.writeError(w, r, fmt.Errorf("mirror feed: %w", err))
		return
	}
	h.feedWriteDeadline(w)
	w.Header().Set("Content-Type", "application/json")
	if acceptsGzip(r) {
		w.Header().Set("Content-Encoding", "gzip")
		w.Header().Add("Vary", "Accept-Encoding")
		zw := h.gzipWriter(w)
		defer h.gzip.Put(zw)
		w.WriteHeader(http.StatusOK)
		if _, err := zw.Write(page); err != nil {
			panic(http.ErrAbortHandler)
		}
		if err := zw.Close(); err != nil {
			panic(http.ErrAbortHandler)
		}
		return
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(page)))
	w.WriteHeader(http.StatusOK)
	w.Write(page)
}

func withdrawnID(pc publicChange) string {
	if pc.raw == nil {
		return pc.id
	}
	return ""
}

// mirrorRoutes mounts the mirrors' endpoints and the operator's.
func (h *Hub) mirrorRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST "+protocol.PathMirrorEnrol, h.handleMirrorEnrol)
	mux.HandleFunc("GET "+protocol.PathMirrorBindings, h.handleMirrorBindings)
	mux.HandleFunc("POST /admin/v1/mirrors", h.operator(h.handleAdminRegisterMirror))
	mux.HandleFunc("GET /admin/v1/mirrors", h.operator(h.handleAdminMirrors))
	mux.HandleFunc("DELETE /admin/v1/mirrors/{name}", h.operator(h.handleAdminRemoveMirror))
}

// handleAdminRemoveMirror is DELETE /admin/v1/mirrors/{name}.
func (h *Hub) handleAdminRemoveMirror(w http.ResponseWriter, r *http.Request) {
	if err := h.RemoveMirror(r.Context(), r.PathValue("name")); err != nil {
		h.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// handleMirrorEnrol is POST /v1/mirrors/enrol {token}.
func (h *Hub) handleMirrorEnrol(w http.ResponseWriter, r *http.Request) {
	var req protocol.MirrorEnrolRequest
	if err := readJSON(w, r, &req); err != nil {
		h.writeError(w, r, err)
		return
	}
	res, err := h.enrolMirror(r.Context(), req.Token)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

// handleMirrorBindings is GET /v1/mirrors/bindings: which countries each
// node speaks for, so a mirror shows the same profiles as the hub.
func (h *Hub) handleMirrorBindings(w http.ResponseWriter, r *http.Request) {
	if _, ok := h.authenticateMirror(strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")); !ok {
		h.writeError(w, r, protocol.Errorf(protocol.CodeUnauthorized, "mirror credential required"))
		return
	}
	out := protocol.MirrorBindings{Nodes: map[string][]string{}, SubscriptionsOpen: h.Open()}
	h.mu.Lock()
	for id, n := range h.nodes {
		if len(n.countries) > 0 && !n.removed {
			out.Nodes[id] = slices.Clone(n.countries)
		}
	}
	h.mu.Unlock()
	writeJSON(w, http.StatusOK, out)
}

// handleAdminRegisterMirror is POST /admin/v1/mirrors {name}.
func (h *Hub) handleAdminRegisterMirror(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Name string `json:"name"`
	}
	if err := readJSON(w, r, &req); err != nil {
		h.writeError(w, r, err)
		return
	}
	tok, err := h.RegisterMirror(r.Context(), req.Name)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, struct {
		Mirror string `json:"mirror"`
		Token  string `json:"token"`
	}{req.Name, tok})
}

// handleAdminMirrors is GET /admin/v1/mirrors.
func (h *Hub) handleAdminMirrors(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, struct {
		Mirrors []MirrorStatus `json:"mirrors"`
	}{h.Mirrors()})
}
