package node

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/bikfed/bikfed/internal/atrest"
	"github.com/bikfed/bikfed/protocol"
)

// Draft is what an editor writes: everything of a change but the envelope
// the node fills in (id, owner, version, seq, times, key, signature).
type Draft struct {
	Kind       protocol.Kind       `json:"kind"`
	Visibility protocol.Visibility `json:"visibility"`
	// PublishAt in the future keeps the entity local and unsigned until then.
	PublishAt *time.Time         `json:"publish_at,omitempty"`
	Body      json.RawMessage    `json:"body"`
	Blobs     []protocol.BlobRef `json:"blobs,omitempty"`
}

// ListFilter selects entities for List. Results are in id order; After is
// the last id of the previous page.
type ListFilter struct {
	Kind  protocol.Kind
	Owner string
	// Limit defaults to 100 and is at most 1000.
	Limit int
	After string
	// Scheduled keeps only own entities waiting for their publish_at.
	Scheduled bool
}

// outcome says what a write did.
type outcome int

const (
	outcomeCreated outcome = iota
	outcomeUpdated
	outcomeUnchanged
)

// fieldError builds a one-field validation error, the shape editors get for
// every invalid draft.
func fieldError(field, format string, args ...any) error {
	return &protocol.ValidationError{Code: protocol.CodeInvalidField,
		Fields: []protocol.FieldError{{Field: field, Message: fmt.Sprintf(format, args...)}}}
}

// checkChange checks c exactly as the hub will: encoded, then parsed with the
// protocol's strict parser and validated, so nothing the hub would refuse is
// stored.
func checkChange(c *protocol.Change) error {
	raw, err := json.Marshal(c)
	if err != nil {
		return protocol.Errorf(protocol.CodeMalformedJSON, "encode change: %v", err)
	}
	_, err = protocol.ParseChange(raw)
	return err
}

// author is one write transaction of authoring: it carries the transaction's
// now, the outbox head and the prepared statements, so a bulk import pays for
// them once per batch.
type author struct {
	n          *Node
	tx         *sql.Tx
	now        time.Time
	head       int64
	headDirty  bool
	checkpoint int64
	erased     bool
	upsert     *sql.Stmt
	outbox     *sql.Stmt
}

const upsertOwnSQL = `INSERT INTO entities (id, owner, kind, version, visibility, deleted, erased, publish_at, updated_at,
		scheduled, outbox_seq, signed_version, sig, change_z, body_own, blobs, local)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
	ON CONFLICT (id) DO UPDATE SET
		local = excluded.local,
		owner = excluded.owner, kind = excluded.kind, version = excluded.version,
		visibility = excluded.visibility, deleted = excluded.deleted, erased = excluded.erased,
		publish_at = excluded.publish_at, updated_at = excluded.updated_at, scheduled = excluded.scheduled,
		-- a scheduled version is not signed: the last signed change stays as it was
		outbox_seq = CASE WHEN excluded.scheduled = 1 THEN entities.outbox_seq ELSE excluded.outbox_seq END,
		signed_version = CASE WHEN excluded.scheduled = 1 THEN entities.signed_version ELSE excluded.signed_version END,
		sig = CASE WHEN excluded.scheduled = 1 THEN entities.sig ELSE excluded.sig END,
		change_z = CASE WHEN excluded.scheduled = 1 THEN entities.change_z ELSE excluded.change_z END,
		body_own = excluded.body_own, blobs = excluded.blobs`

const insertOutboxSQL = `INSERT INTO outbox (seq, entity_id, version, created_at, sig, change) VALUES (?, ?, ?, ?, ?, ?)`

func (n *Node) beginAuthor(ctx context.Context, tx *sql.Tx, now time.Time) (*author, error) {
	a := &author{n: n, tx: tx, now: now.UTC()}
	if err := tx.QueryRowContext(ctx, `SELECT head_seq, push_checkpoint FROM sync_state WHERE id = 1`).Scan(&a.head, &a.checkpoint); err != nil {
		return nil, fmt.Errorf("read outbox head: %w", err)
	}
	var err error
	if a.upsert, err = tx.PrepareContext(ctx, upsertOwnSQL); err != nil {
		return nil, fmt.Errorf("prepare entity upsert: %w", err)
	}
	if a.outbox, err = tx.PrepareContext(ctx, insertOutboxSQL); err != nil {
		a.upsert.Close()
		return nil, fmt.Errorf("prepare outbox insert: %w", err)
	}
	return a, nil
}

// finish stores the outbox head; the caller's transaction commits it with the rows.
func (a *author) finish(ctx context.Context) error {
	a.upsert.Close()
	a.outbox.Close()
	if !a.headDirty {
		return nil
	}
	if _, err := a.tx.ExecContext(ctx, `UPDATE sync_state SET head_seq = ? WHERE id = 1`, a.head); err != nil {
		return fmt.Errorf("store outbox head: %w", err)
	}
	return nil
}

func (a *author) view(r entityRow) Entity { return r.view(a.n.ident.Node, a.checkpoint) }

// checkOwn refuses ids that are malformed or owned by someone else.
func (a *author) checkOwn(id string) error {
	owner, err := protocol.SplitEntityID(id)
	if err != nil {
		return fieldError("id", "%v", err)
	}
	if owner != a.n.ident.Node {
		return &protocol.Error{Code: protocol.CodeNotOwner, Record: id,
			Message: fmt.Sprintf("owned by %q; only its owner may change it", owner)}
	}
	return nil
}

// put creates (id == "") or updates an own entity. With createMissing, an
// own id that does not exist yet is created under that id (imports keep
// their ids stable that way).
func (a *author) put(ctx context.Context, id string, d Draft, createMissing bool) (entityRow, outcome, error) {
	self := a.n.ident.Node
	var cur *entityRow
	if id == "" {
		var err error
		if id, err = protocol.NewEntityID(self, a.now); err != nil {
			return entityRow{}, 0, err
		}
	} else {
		if err := a.checkOwn(id); err != nil {
			return entityRow{}, 0, err
		}
		r, err := getEntityTx(ctx, a.tx, id)
		switch {
		case err == nil:
			cur = &r
		case errors.Is(err, protocol.ErrNotFound) && createMissing:
		default:
			return entityRow{}, 0, err
		}
	}
	if cur != nil && cur.Erased {
		// The hub would refuse it, and a holder that pulled only the new
		// version would never see the erasure.
		return entityRow{}, 0, &protocol.Error{Code: protocol.CodeErased, Record: id,
			Message: fmt.Sprintf("erased at v%d; an erasure is final: write a new entity instead", cur.Version)}
	}
	if d.Kind == "" && cur != nil {
		d.Kind = cur.Kind
	}
	if d.Kind == "" {
		return entityRow{}, 0, fieldError("kind", "required (resource, translation, post, comment or profile)")
	}
	if d.Kind.HubOnly() {
		return entityRow{}, 0, fieldError("kind", "%s entities are authored by the hub, not by a node", d.Kind)
	}
	if cur != nil && d.Kind != cur.Kind {
		return entityRow{}, 0, fieldError("kind", "an entity's kind cannot change (it is %s)", cur.Kind)
	}
	var body json.RawMessage
	if len(bytes.TrimSpace(d.Body)) > 0 {
		var buf bytes.Buffer
		if err := json.Compact(&buf, d.Body); err != nil {
			return entityRow{}, 0, fieldError("body", "not valid JSON: %v", err)
		}
		body = buf.Bytes()
	}
	var publishAt *time.Time
	if d.PublishAt != nil {
		t := d.PublishAt.UTC()
		publishAt = &t
	}
	version := int64(1)
	if cur != nil {
		version = nextVersion(*cur)
	}
	c := protocol.Change{
		Protocol: protocol.Version, ID: id, Kind: d.Kind, Owner: self, Version: version, Seq: a.head + 1,
		UpdatedAt: a.now, Visibility: d.Visibility, PublishAt: publishAt, Body: body, Blobs: d.Blobs, KeyID: a.n.key.ID,
	}
	if err := checkChange(&c); err != nil {
		return entityRow{}, 0, err
	}
	if err := a.checkRules(ctx, &c); err != nil {
		return entityRow{}, 0, err
	}
	local, err := a.isLocal(ctx, &c)
	if err != nil {
		return entityRow{}, 0, err
	}
	if cur != nil {
		was, err := a.localRow(ctx, id)
		if err != nil {
			return entityRow{}, 0, err
		}
		if was != local {
			// Moving a post out would publish what was written for the
			// SIC alone; moving one in cannot call back what the network
			// already holds.
			return entityRow{}, 0, &protocol.Error{Code: protocol.CodeInvalidSpace, Record: id,
				Message: fmt.Sprintf("a post cannot move into or out of %s, the national youth space: write a new post there instead", protocol.NationalYouthSpace(self))}
		}
	}
	if cur != nil && unchanged(*cur, c) {
		return *cur, outcomeUnchanged, nil
	}
	scheduled := publishAt != nil && publishAt.After(a.now)
	row, err := a.store(ctx, &c, scheduled, local, body)
	if err != nil {
		return entityRow{}, 0, err
	}
	if cur == nil {
		return row, outcomeCreated, nil
	}
	return row, outcomeUpdated, nil
}

// nextVersion replaces a scheduled version in place: nobody has seen it, so
// the network sees versions without holes.
func nextVersion(cur entityRow) int64 {
	if cur.scheduled {
		return cur.signedVersion + 1
	}
	return cur.Version + 1
}

func unchanged(cur entityRow, c protocol.Change) bool {
	if cur.Deleted || cur.Visibility != c.Visibility || !bytes.Equal(cur.Body, c.Body) {
		return false
	}
	if (cur.PublishAt == nil) != (c.PublishAt == nil) || cur.PublishAt != nil && !cur.PublishAt.Equal(*c.PublishAt) {
		return false
	}
	return slices.Equal(cur.Blobs, c.Blobs) || len(cur.Blobs) == 0 && len(c.Blobs) == 0
}

// store writes c as the entity's current state; unless it is scheduled or
// local, it signs c with the next seq and appends it to the outbox in the
// same transaction, which is what keeps the outbox gap-free. A local entity
// (isLocal) is never signed: with no signature and no outbox row, no path
// of the node (push, reconciliation, verification) has anything to send.
func (a *author) store(ctx context.Context, c *protocol.Change, scheduled, local bool, localBody json.RawMessage) (entityRow, error) {
	var (
		outboxSeq, signedVersion int64
		sig, change              []byte
	)
	if !scheduled && !local {
		c.Seq = a.head + 1
		s, err := a.n.key.Sign(c)
		if err != nil {
			return entityRow{}, err
		}
		if _, err := a.outbox.ExecContext(ctx, c.Seq, c.ID, c.Version, fmtTime(a.now), s.Sig, []byte(s.Change)); err != nil {
			return entityRow{}, fmt.Errorf("append %s v%d to outbox: %w", c.ID, c.Version, err)
		}
		a.head, a.headDirty = c.Seq, true
		outboxSeq, signedVersion, sig, change = c.Seq, c.Version, s.Sig, s.Change
	}
	var blobs any
	if len(c.Blobs) > 0 {
		b, err := json.Marshal(c.Blobs)
		if err != nil {
			return entityRow{}, fmt.Errorf("encode blobs: %w", err)
		}
		blobs = string(b)
	}
	var body *string
	if localBody != nil {
		s := string(localBody)
		body = &s
	}
	// A scheduled version keeps the last signed change, whose body is not
	// this one: the body is stored as it is.
	var bodyOwn any = bodyNull
	if body != nil {
		bodyOwn = *body
	}
	var stored []byte
	if !scheduled {
		var err error
		if bodyOwn, err = ownBody(body, change); err != nil {
			return entityRow{}, fmt.Errorf("store %s: %w", c.ID, err)
		}
		if stored, err = atrest.Compress(change); err != nil {
			return entityRow{}, fmt.Errorf("store %s: %w", c.ID, err)
		}
	}
	_, err := a.upsert.ExecContext(ctx, c.ID, c.Owner, string(c.Kind), c.Version, string(c.Visibility), c.Deleted, c.Erased,
		fmtTimePtr(c.PublishAt), fmtTime(c.UpdatedAt), scheduled, outboxSeq, signedVersion, sig, stored, bodyOwn, blobs, local)
	if err != nil {
		return entityRow{}, fmt.Errorf("store %s: %w", c.ID, err)
	}
	r := entityRow{
		Entity: Entity{ID: c.ID, Kind: c.Kind, Owner: c.Owner, Version: c.Version, Visibility: c.Visibility,
			PublishAt: c.PublishAt, Deleted: c.Deleted, Erased: c.Erased, UpdatedAt: c.UpdatedAt, Body: localBody, Blobs: c.Blobs},
		scheduled: scheduled, outboxSeq: outboxSeq, signedVersion: signedVersion,
	}
	if r.Blobs == nil {
		r.Blobs = []protocol.BlobRef{}
	}
	return r, nil
}

// remove writes a tombstone version. An erasure also purges the body and
// attachments locally and re-signs, as tombstones, the entity's changes still
// waiting in the outbox, so the erased text never leaves the node.
func (a *author) remove(ctx context.Context, id string, erase bool) (entityRow, error) {
	if err := a.checkOwn(id); err != nil {
		return entityRow{}, err
	}
	cur, err := getEntityTx(ctx, a.tx, id)
	if err != nil {
		return entityRow{}, err
	}
	if cur.Deleted && (cur.Erased || !erase) {
		return cur, nil
	}
	c := protocol.Change{
		Protocol: protocol.Version, ID: id, Kind: cur.Kind, Owner: cur.Owner, Version: nextVersion(cur),
		Seq: a.head + 1, UpdatedAt: a.now, Visibility: cur.Visibility, Deleted: true, Erased: erase, KeyID: a.n.key.ID,
	}
	if err := checkChange(&c); err != nil {
		return entityRow{}, err
	}
	localBody := cur.Body
	if erase {
		localBody = nil
		if err := a.erasePending(ctx, id); err != nil {
			return entityRow{}, err
		}
		a.erased = true
	}
	local, err := a.localRow(ctx, id)
	if err != nil {
		return entityRow{}, err
	}
	r, err := a.store(ctx, &c, false, local, localBody)
	if err != nil {
		return entityRow{}, err
	}
	if !erase && len(cur.Blobs) > 0 {
		// A plain delete keeps the attachments list locally, like the body.
		b, _ := json.Marshal(cur.Blobs)
		if _, err := a.tx.ExecContext(ctx, `UPDATE entities SET blobs = ? WHERE id = ?`, string(b), id); err != nil {
			return entityRow{}, fmt.Errorf("keep blobs of %s: %w", id, err)
		}
		r.Blobs = cur.Blobs
	}
	return r, nil
}

// erasePending turns the entity's unacknowledged outbox changes into
// tombstones of the same version and seq, keeping the outbox gap-free. Not
// erasures: the hub takes no version after an erasure, so only the last
// change of the entity may be one.
func (a *author) erasePending(ctx context.Context, id string) error {
	type pending struct {
		seq    int64
		change []byte
	}
	var ps []pending
	rows, err := a.tx.QueryContext(ctx, `SELECT seq, change FROM outbox WHERE entity_id = ? AND seq > ? ORDER BY seq`, id, a.checkpoint)
	if err != nil {
		return fmt.Errorf("read outbox of %s: %w", id, err)
	}
	for rows.Next() {
		var p pending
		if err := rows.Scan(&p.seq, &p.change); err != nil {
			rows.Close()
			return fmt.Errorf("read outbox of %s: %w", id, err)
		}
		ps = append(ps, p)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read outbox of %s: %w", id, err)
	}
	for _, p := range ps {
		var c protocol.Change
		if err := json.Unmarshal(p.change, &c); err != nil {
			return fmt.Errorf("decode outbox seq %d: %w", p.seq, err)
		}
		c.Deleted, c.Erased, c.Body, c.Blobs, c.PublishAt = true, false, nil, nil, nil
		s, err := a.n.key.Sign(&c)
		if err != nil {
			return err
		}
		if _, err := a.tx.ExecContext(ctx, `UPDATE outbox SET change = ?, sig = ? WHERE seq = ?`, []byte(s.Change), s.Sig, p.seq); err != nil {
			return fmt.Errorf("erase outbox seq %d: %w", p.seq, err)
		}
	}
	return nil
}

// publish signs a scheduled entity whose publish_at has come.
func (a *author) publish(ctx context.Context, r entityRow) error {
	c := protocol.Change{
		Protocol: protocol.Version, ID: r.ID, Kind: r.Kind, Owner: r.Owner, Version: r.Version, Seq: a.head + 1,
		UpdatedAt: a.now, Visibility: r.Visibility, PublishAt: r.PublishAt, Body: r.Body, Blobs: r.Blobs, KeyID: a.n.key.ID,
	}
	if len(c.Blobs) == 0 {
		c.Blobs = nil
	}
	if err := checkChange(&c); err != nil {
		return err
	}
	local, err := a.localRow(ctx, r.ID)
	if err != nil {
		return err
	}
	_, err = a.store(ctx, &c, false, local, r.Body)
	return err
}

// isLocal reports whether c stays on this node: a post of its national
// youth space, or a comment or a flag on an entity that stays.
func (a *author) isLocal(ctx context.Context, c *protocol.Change) (bool, error) {
	var ref struct {
		Space  string `json:"space"`
		Post   string `json:"post"`
		Target string `json:"target"`
	}
	switch c.Kind {
	case protocol.KindPost:
		if err := json.Unmarshal(c.Body, &ref); err != nil {
			return false, fieldError("body", "%v", err)
		}
		return ref.Space == protocol.NationalYouthSpace(a.n.ident.Node), nil
	case protocol.KindComment:
		if err := json.Unmarshal(c.Body, &ref); err != nil {
			return false, fieldError("body", "%v", err)
		}
		return a.localRow(ctx, ref.Post)
	case protocol.KindFlag:
		if err := json.Unmarshal(c.Body, &ref); err != nil {
			return false, fieldError("body", "%v", err)
		}
		return a.localRow(ctx, ref.Target)
	}
	return false, nil
}

// localRow reports whether the entity id is stored as local; an entity the
// node does not hold is not.
func (a *author) localRow(ctx context.Context, id string) (bool, error) {
	var local bool
	err := a.tx.QueryRowContext(ctx, `SELECT local FROM entities WHERE id = ?`, id).Scan(&local)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return false, fmt.Errorf("read %s: %w", id, err)
	}
	return local, nil
}

// write runs fn as one authoring transaction and wakes the push loop after it.
func (n *Node) write(ctx context.Context, fn func(a *author) error) error {
	pushed, erased := false, false
	err := n.db.WriteTx(ctx, func(tx *sql.Tx) error {
		a, err := n.beginAuthor(ctx, tx, n.now())
		if err != nil {
			return err
		}
		if err := fn(a); err != nil {
			a.upsert.Close()
			a.outbox.Close()
			return err
		}
		pushed, erased = a.headDirty, a.erased
		return a.finish(ctx)
	})
	if err != nil {
		return unwrapTx(err)
	}
	if erased {
		n.flushErasures(ctx)
	}
	if pushed {
		n.kickPush()
	}
	return nil
}

// unwrapTx returns the protocol error inside a transaction error, so callers
// and the admin API see the field errors and codes, not "write tx: ...".
func unwrapTx(err error) error {
	var ve *protocol.ValidationError
	if errors.As(err, &ve) {
		return ve
	}
	var pe *protocol.Error
	if errors.As(err, &pe) {
		return pe
	}
	return err
}

// Create authors a new entity owned by this node.
func (n *Node) Create(ctx context.Context, d Draft) (Entity, error) {
	var e Entity
	err := n.write(ctx, func(a *author) error {
		r, _, err := a.put(ctx, "", d, false)
		e = a.view(r)
		return err
	})
	if err != nil {
		return Entity{}, err
	}
	return e, nil
}

// Update writes a new version of an own entity. An empty Kind keeps the
// entity's kind. A draft identical to the current version writes nothing.
func (n *Node) Update(ctx context.Context, id string, d Draft) (Entity, error) {
	var e Entity
	err := n.write(ctx, func(a *author) error {
		r, _, err := a.put(ctx, id, d, false)
		e = a.view(r)
		return err
	})
	if err != nil {
		return Entity{}, err
	}
	return e, nil
}

// Delete writes a tombstone version of an own entity; erase also purges its
// body and attachments (a GDPR erasure). Deleting twice is a no-op.
func (n *Node) Delete(ctx context.Context, id string, erase bool) (Entity, error) {
	var e Entity
	err := n.write(ctx, func(a *author) error {
		r, err := a.remove(ctx, id, erase)
		e = a.view(r)
		return err
	})
	if err != nil {
		return Entity{}, err
	}
	return e, nil
}

// PublishDue signs, in publish_at order, the scheduled entities whose
// publish_at is at or before now, and returns how many it signed.
func (n *Node) PublishDue(ctx context.Context, now time.Time) (int, error) {
	published := 0
	err := n.write(ctx, func(a *author) error {
		rows, err := a.tx.QueryContext(ctx, `SELECT `+entityColumns+` FROM entities
			WHERE scheduled = 1 AND publish_at <= ? ORDER BY publish_at, id`, fmtTime(now))
		if err != nil {
			return fmt.Errorf("read due entities: %w", err)
		}
		var due []entityRow
		for rows.Next() {
			r, err := scanEntity(rows)
			if err != nil {
				rows.Close()
				return fmt.Errorf("read due entities: %w", err)
			}
			due = append(due, r)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("read due entities: %w", err)
		}
		for _, r := range due {
			if err := a.publish(ctx, r); err != nil {
				var ve *protocol.ValidationError
				var pe *protocol.Error
				if errors.As(err, &ve) || errors.As(err, &pe) {
					// It stays scheduled so an editor can fix it; the rest still go out.
					n.log.Warn("scheduled entity cannot be published", "id", r.ID, "version", r.Version, "err", err)
					continue
				}
				return err
			}
			published++
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("publish due: %w", err)
	}
	if published > 0 {
		n.log.Info("published scheduled entities", "count", published)
	}
	return published, nil
}

// Get returns one entity.
func (n *Node) Get(ctx context.Context, id string) (Entity, error) {
	var e Entity
	err := n.db.ReadTx(ctx, func(tx *sql.Tx) error {
		st, err := readSyncState(ctx, tx)
		if err != nil {
			return err
		}
		r, err := getEntityTx(ctx, tx, id)
		if err != nil {
			return err
		}
		e = r.view(n.ident.Node, st.PushCheckpoint)
		return nil
	})
	if err != nil {
		return Entity{}, unwrapTx(err)
	}
	return e, nil
}

// List returns entities in id order.
func (n *Node) List(ctx context.Context, f ListFilter) ([]Entity, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, 1000)
	q := `SELECT ` + entityColumns + ` FROM entities WHERE 1 = 1`
	var args []any
	if f.Kind != "" {
		q += ` AND kind = ?`
		args = append(args, string(f.Kind))
	}
	if f.Owner != "" {
		lo, hi := ownerRange(f.Owner)
		q += ` AND id >= ? AND id < ?`
		args = append(args, lo, hi)
	}
	if f.Scheduled {
		q += ` AND scheduled = 1`
	}
	if f.After != "" {
		q += ` AND id > ?`
		args = append(args, f.After)
	}
	q += ` ORDER BY id LIMIT ?`
	args = append(args, limit)
	out := []Entity{}
	err := n.db.ReadTx(ctx, func(tx *sql.Tx) error {
		st, err := readSyncState(ctx, tx)
		if err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, q, args...)
		if err != nil {
			return fmt.Errorf("list entities: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			r, err := scanEntity(rows)
			if err != nil {
				return fmt.Errorf("list entities: %w", err)
			}
			out = append(out, r.view(n.ident.Node, st.PushCheckpoint))
		}
		return rows.Err()
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
