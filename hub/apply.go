package hub

import (
	"cmp"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"github.com/bikfed/bikfed/internal/atrest"
	"github.com/bikfed/bikfed/protocol"
)

// maxKeptRefusals is how many refusals per node the hub keeps for status.
const maxKeptRefusals = 100

// pushItem is one record of a batch on its way through verification and apply.
type pushItem struct {
	line    int
	signed  protocol.Signed
	change  *protocol.Change  // nil when the record could not be parsed
	refusal *protocol.Refusal // set when verification refused it
	hash    [32]byte
	stored  []byte        // the change as entities.change_z keeps it (atrest), made here on a verifier
	ref     string        // the entity a translation, comment or moderation points at
	country string        // a profile's country, once checked
	done    chan struct{} // closed once verified; nil when there is nothing to verify
	dupSeq  int64         // the seq of a record already processed, left unverified
	// eraseReason is the coordination team's reason when the hub erases an
	// entity on its owner's behalf (erasure.go).
	eraseReason string
	// fail is an error of the hub's own (a database read) met while the
	// record was checked: it says nothing about the change, so the whole
	// push fails and is sent again, rather than the record being refused.
	fail error
}

// batch is a read push whose records may still be under verification.
type batch struct {
	header protocol.PushHeader
	// dupBelow is the node's applied_seq when the push began, in the same
	// epoch (0 otherwise): records up to it were processed by an earlier
	// push and are counted as duplicates without being verified again, as
	// after a push whose answer was lost.
	dupBelow  int64
	items     []*pushItem
	truncated bool        // stopped at a limit: the checkpoint is the highest seq read
	ticket    *pushTicket // the push's admission; nil for the hub's own batches
	verifying sync.WaitGroup
}

// wait blocks until every record of b is verified.
func (b *batch) wait() { b.verifying.Wait() }

// readPush reads a push body for node: it admits the push by its header, then
// decodes lines in this goroutine and queues each record for the verifiers,
// which work on all cores at once. It returns when
// the body is read; verification may still be running, so applyBatch can
// start writing the first records while the last ones are checked, and the
// write transaction is never held open while a slow client sends its body.
// The caller ends the returned batch's ticket with finish.
func (h *Hub) readPush(ctx context.Context, r io.Reader, node string) (*batch, error) {
	pr, err := protocol.NewPushReader(r)
	if err != nil {
		return nil, err
	}
	pr.SetLimits(h.cfg.MaxBatchBytes, h.cfg.MaxBatchChanges)
	b := &batch{header: pr.Header()}
	if b.header.Node != node {
		return nil, protocol.Errorf(protocol.CodeForbidden, "push header names node %q, credential is %q's", b.header.Node, node)
	}
	if b.ticket, b.dupBelow, err = h.admit(b.header); err != nil {
		return nil, err
	}
	read := false
	defer func() {
		if !read {
			h.finish(b.ticket)
		}
	}()
	if b.header.FromSeq > b.dupBelow {
		b.dupBelow = 0 // nothing in range was processed: no record to look at twice
	}

	// Records go to the verifiers in chunks, each verified as one batch; a
	// full push makes one per core, larger than protocol.BatchSize when
	// that is what it takes: the fixed cost of a batch is spread over more
	// signatures, and no core waits for another's last chunk.
	chunkLen := protocol.BatchSize
	if n := b.header.ToSeq - b.header.FromSeq + 1; n > 0 {
		procs := int64(runtime.GOMAXPROCS(0))
		chunkLen = max(chunkLen, int(min(n, int64(h.cfg.MaxBatchChanges))+procs-1)/int(procs))
	}
	var chunk []*pushItem
	queue := func() error {
		if len(chunk) == 0 {
			return nil
		}
		b.verifying.Add(len(chunk))
		select {
		case h.verifyQ <- verifyJob{items: chunk, node: node, b: b}:
			chunk = nil
			return nil
		case <-ctx.Done():
			b.verifying.Add(-len(chunk))
			return ctx.Err()
		}
	}
	var readErr error
	for {
		if err := ctx.Err(); err != nil {
			readErr = err
			break
		}
		rec, err := pr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if errors.Is(err, protocol.ErrTruncated) {
			b.truncated = true
			break
		}
		if err != nil {
			readErr = err
			break
		}
		it := &pushItem{line: rec.Line}
		b.items = append(b.items, it)
		if rec.Refusal != nil {
			it.refusal = rec.Refusal
			continue
		}
		it.signed = rec.Signed
		if b.dupBelow > 0 {
			// Only the seq is read: the record is not used.
			if c, _ := protocol.ParseChange(rec.Signed.Change); c != nil && c.Seq >= b.header.FromSeq && c.Seq <= min(b.dupBelow, b.header.ToSeq) {
				it.dupSeq = c.Seq
				continue
			}
		}
		it.done = make(chan struct{})
		chunk = append(chunk, it)
		if len(chunk) >= chunkLen {
			if readErr = queue(); readErr != nil {
				break
			}
		}
	}
	if readErr == nil {
		readErr = queue()
	}
	if readErr != nil {
		b.wait()
		// A body cut off mid-line would end in a partial record that looks
		// malformed; refusing it would move the checkpoint past a record the
		// node sent intact. Apply nothing; the node sends the batch again.
		if errors.Is(readErr, errInflatedTooLarge) {
			return nil, errInflatedTooLarge
		}
		var mbe *http.MaxBytesError
		if errors.As(readErr, &mbe) {
			return nil, protocol.Errorf(protocol.CodeBatchTooLarge, "push body is larger than %d bytes", mbe.Limit)
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("read push: %w", readErr)
		}
		return nil, protocol.Errorf(protocol.CodeBadRequest, "read push body: %v", readErr)
	}
	read = true
	return b, nil
}

// verifyJob is a chunk of a push's records to verify.
type verifyJob struct {
	items []*pushItem
	node  string
	b     *batch
}

// verifyQueue is how many chunks wait for a verifier before a reader waits
// to queue more: four whole batches.
const verifyQueue = 4 * protocol.MaxBatchChanges / protocol.BatchSize

// startVerifiers starts one verifier per core, shared by every push. Chunks
// are verified in the order they were read, so the push that arrived first
// is verified first, and pushes of several nodes at once do not each start a
// worker per core to compete for them.
func (h *Hub) startVerifiers() {
	h.verifyQ = make(chan verifyJob, verifyQueue)
	for range runtime.GOMAXPROCS(0) {
		h.wg.Go(func() {
			for {
				select {
				case j := <-h.verifyQ:
					h.verifyAll(j.items, j.node)
					for _, it := range j.items {
						close(it.done)
					}
					j.b.verifying.Add(-len(j.items))
				case <-h.ctx.Done():
					return
				}
			}
		})
	}
}

// verifyAll checks records as verify does, their signatures as one batch.
// It runs on a verifier and touches only them.
func (h *Hub) verifyAll(items []*pushItem, node string) {
	signed := make([]protocol.Signed, len(items))
	for i, it := range items {
		signed[i] = it.signed
	}
	changes, errs := protocol.VerifyBatchAt(signed, nil, h.lookupKey)
	for i, it := range items {
		h.checkVerified(it, node, changes[i], errs[i])
	}
}

// verify checks one record: signature, validation, ownership.
func (h *Hub) verify(it *pushItem, node string) {
	c, err := protocol.Verify(it.signed, h.lookupKey)
	h.checkVerified(it, node, c, err)
}

// checkVerified completes the checks of a record once protocol has parsed
// it into c and judged its signature (err).
func (h *Hub) checkVerified(it *pushItem, node string, c *protocol.Change, err error) {
	it.change = c
	if c == nil {
		code, reason := refusalReason(err)
		it.refusal = &protocol.Refusal{Line: it.line, Code: code, Reason: reason}
		// The seq a change too broken to parse still shows is what it
		// carried: the checkpoint may pass it, as for any refused record.
		it.refusal.ID, it.refusal.Seq, it.refusal.Version = nameUnparsed(it.signed.Change)
		return
	}
	// Ownership first: a node relaying (or forging) another owner's change is
	// told so, whatever else is wrong with it.
	if c.Owner != node && !(node == protocol.HubID && c.IsHubErasure()) {
		it.refusal = &protocol.Refusal{Line: it.line, Seq: c.Seq, ID: c.ID, Version: c.Version, Code: protocol.CodeNotOwner,
			Reason: fmt.Sprintf("entity is owned by %q; %q may only push its own entities", c.Owner, node)}
		return
	}
	if err != nil {
		code, reason := refusalReason(err)
		it.refusal = &protocol.Refusal{Line: it.line, Seq: c.Seq, ID: c.ID, Version: c.Version, Code: code, Reason: reason}
		return
	}
	it.hash = sha256.Sum256(it.signed.Change)
	if it.stored, err = atrest.Compress(it.signed.Change); err != nil {
		it.fail = err
		return
	}
	if !c.Deleted {
		it.ref = bodyRef(c)
	}
	h.requireBlobs(it)
	if it.refusal == nil && it.fail == nil && (c.Kind == protocol.KindProfile || c.Kind == protocol.KindEvent) && !c.Deleted {
		h.requireCountry(it, node)
	}
	if it.refusal == nil && it.fail == nil && c.Kind == protocol.KindPost && !c.Deleted {
		refuseNationalYouth(it)
	}
}

// nameUnparsed reads what it can of a change the strict parser refused:
// its id, seq and version, each zero when unreadable.
func nameUnparsed(raw []byte) (id string, seq, version int64) {
	var named struct {
		ID      any `json:"id"`
		Seq     any `json:"seq"`
		Version any `json:"version"`
	}
	if json.Unmarshal(raw, &named) != nil {
		return "", 0, 0
	}
	if s, ok := named.ID.(string); ok {
		if _, err := protocol.SplitEntityID(s); err == nil {
			id = s
		}
	}
	whole := func(v any) int64 {
		if f, ok := v.(float64); ok && f >= 1 && f <= 1<<53 && f == float64(int64(f)) {
			return int64(f)
		}
		return 0
	}
	return id, whole(named.Seq), whole(named.Version)
}

// bodyRef returns the entity a change's body points at, kept in a column so
// the public API can hide translations of non-public resources and content
// hidden by moderation without decoding bodies.
func bodyRef(c *protocol.Change) string {
	var ref struct {
		Resource string `json:"resource"`
		Post     string `json:"post"`
		Target   string `json:"target"`
	}
	switch c.Kind {
	case protocol.KindTranslation, protocol.KindComment, protocol.KindModeration, protocol.KindFlag:
	default:
		return ""
	}
	if json.Unmarshal(c.Body, &ref) != nil {
		return ""
	}
	switch c.Kind {
	case protocol.KindTranslation:
		return ref.Resource
	case protocol.KindComment:
		return ref.Post
	}
	return ref.Target
}

// refusalReason gives the code and message of a verification error.
func refusalReason(err error) (protocol.Code, string) {
	var ve *protocol.ValidationError
	if errors.As(err, &ve) {
		return ve.Code, ve.Error()
	}
	var pe *protocol.Error
	if errors.As(err, &pe) {
		return pe.Code, pe.Message
	}
	if err == nil {
		return protocol.CodeInternal, "unknown error"
	}
	return protocol.CodeInternal, err.Error()
}

func checkpointCheck(hd protocol.PushHeader, epoch string, applied int64) error {
	if hd.Epoch != epoch {
		if hd.FromSeq != 1 {
			return protocol.Errorf(protocol.CodeEpochMismatch,
				"hub holds epoch %q for %s (applied_seq %d); a new epoch %q must start at seq 1, not %d",
				epoch, hd.Node, applied, hd.Epoch, hd.FromSeq)
		}
		return nil
	}
	if hd.FromSeq > applied+1 {
		return protocol.Errorf(protocol.CodeSeqGap,
			"hub has applied up to applied_seq %d of epoch %q; push from seq %d, not %d", applied, epoch, applied+1, hd.FromSeq)
	}
	return nil
}

// applyChunk is how many verified records are applied at a time: small
// enough that writing starts soon after the first records are verified and
// little is left to write once the last is, large enough that the
// stored-versions query is amortised.
const applyChunk = 64

// applyState carries one batch's apply through its chunks.
type applyState struct {
	h       *Hub
	hd      protocol.PushHeader
	applied int64 // the checkpoint before this batch
	res     *protocol.PushResult
	head    int64
	now     time.Time
	// next is the lowest seq of the range no record has carried yet: the
	// checkpoint stops below it. missing is set to it once a record shows
	// it was skipped; nothing after that point is processed.
	next     int64
	missing  int64
	last     int64 // last accepted seq, for the increasing-seq rule
	have     map[string]stored
	profiles *liveProfiles // read at the batch's first profile
	erasures int
	ids      []byte
	// rows holds the arguments of upserts not yet written, entityCols a
	// row; ins and insMany write one row and insertRows rows at a time.
	rows         []any
	ins, insMany *sql.Stmt
	versions     *sql.Stmt // the stored versions of a chunk's entities
}

// close closes the batch's prepared statements.
func (st *applyState) close() {
	for _, stmt := range []*sql.Stmt{st.ins, st.insMany, st.versions} {
		if stmt != nil {
			stmt.Close()
		}
	}
}

// insertRows is how many entities one statement writes: the per-statement
// costs of database/sql and SQLite (cursors, reset) are paid once for them.
const insertRows = 32

// entityCols is the number of arguments of one row of upsertEntities.
const entityCols = 17

// flush writes the pending rows.
func (st *applyState) flush(ctx context.Context, tx *sql.Tx) error {
	rows := st.rows
	for len(rows) >= insertRows*entityCols {
		if st.insMany == nil {
			var err error
			if st.insMany, err = st.h.txStmt(ctx, tx, upsertEntities(insertRows)); err != nil {
				return fmt.Errorf("prepare upsert: %w", err)
			}
		}
		if _, err := st.insMany.ExecContext(ctx, rows[:insertRows*entityCols]...); err != nil {
			return fmt.Errorf("store entities: %w", err)
		}
		rows = rows[insertRows*entityCols:]
	}
	for len(rows) > 0 {
		if st.ins == nil {
			var err error
			if st.ins, err = st.h.txStmt(ctx, tx, upsertEntities(1)); err != nil {
				return fmt.Errorf("prepare upsert: %w", err)
			}
		}
		if _, err := st.ins.ExecContext(ctx, rows[:entityCols]...); err != nil {
			return fmt.Errorf("store %s: %w", rows[1], err)
		}
		rows = rows[entityCols:]
	}
	clear(st.rows) // drop references to the written changes
	st.rows = st.rows[:0]
	return nil
}

// applyChunk applies records in body order: seq discipline, duplicates,
// versions, then the upsert that gives each applied change the next hub_seq.
func (st *applyState) applyChunk(ctx context.Context, tx *sql.Tx, chunk []*pushItem) error {
	hd, res := st.hd, st.res
	todo := make([]*pushItem, 0, len(chunk))
	st.ids = append(st.ids[:0], '[')
	for _, it := range chunk {
		seq := int64(0)
		if it.change != nil {
			seq = it.change.Seq
		} else if it.dupSeq > 0 {
			seq = it.dupSeq
		} else if it.refusal != nil {
			seq = it.refusal.Seq // what the reader could find in a broken line
		}
		if st.missing > 0 {
			continue // past a seq the body did not carry: the node sends it all again
		}
		inRange := seq >= hd.FromSeq && seq <= hd.ToSeq
		if inRange && seq > st.next {
			// The header's range promised seq st.next and no record carried
			// it (a line lost on the way, a node's bug): the checkpoint must
			// not pass it, and what follows waits for it.
			st.missing = st.next
			continue
		}
		if inRange && seq == st.next {
			st.next++
		}
		if it.fail != nil {
			return protocol.Errorf(protocol.CodeUnavailable, "line %d could not be checked, nothing of this push was applied; push again: %v", it.line, it.fail)
		}
		if seq > 0 && seq <= st.applied && inRange {
			res.Duplicates++ // processed by an earlier push
			continue
		}
		if it.refusal != nil {
			res.Refused = append(res.Refused, *it.refusal)
			continue
		}
		c := it.change
		if !inRange || seq <= st.last {
			res.Refused = append(res.Refused, protocol.Refusal{Line: it.line, Seq: seq, ID: c.ID, Version: c.Version,
				Code: protocol.CodeInvalidField, Reason: fmt.Sprintf("seq %d is outside the batch's range %d-%d or not increasing", seq, hd.FromSeq, hd.ToSeq)})
			continue
		}
		st.last = seq
		st.want(c.ID)
		if it.ref != "" && (c.Kind == protocol.KindComment || c.Kind == protocol.KindTranslation || c.Kind == protocol.KindFlag) {
			st.want(it.ref) // read with the chunk's entities, for checkRules
		}
		todo = append(todo, it)
	}
	st.ids = append(st.ids, ']')
	if len(st.ids) > 2 {
		if st.versions == nil {
			var err error
			if st.versions, err = st.h.txStmt(ctx, tx, storedVersions); err != nil {
				return fmt.Errorf("prepare stored versions: %w", err)
			}
		}
		rows, err := st.versions.QueryContext(ctx, string(st.ids))
		if err != nil {
			return fmt.Errorf("read stored versions: %w", err)
		}
		for rows.Next() {
			var id string
			var s stored
			var publishAt sql.NullInt64
			if err := rows.Scan(&id, &s.version, &s.kind, &s.hash, &s.visibility, &s.deleted, &s.erased, &publishAt, &s.everPublic); err != nil {
				rows.Close()
				return fmt.Errorf("read stored versions: %w", err)
			}
			if publishAt.Valid {
				t := fromMillis(publishAt.Int64)
				s.publishAt = &t
			}
			st.have[id] = s
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("read stored versions: %w", err)
		}
	}

	appliedAt := toMillis(st.now)
	for _, it := range todo {
		c := it.change
		if s, ok := st.have[c.ID]; ok && s.version > 0 {
			refuse := func(code protocol.Code, format string, args ...any) {
				res.Refused = append(res.Refused, protocol.Refusal{Line: it.line, Seq: c.Seq, ID: c.ID, Version: c.Version,
					Code: code, Reason: fmt.Sprintf(format, args...)})
			}
			switch {
			case s.version > c.Version:
				refuse(protocol.CodeStaleVersion, "replayed older version: have v%d, got v%d", s.version, c.Version)
				continue
			case s.version == c.Version && string(s.hash) == string(it.hash[:]):
				res.Duplicates++
				continue
			case s.version == c.Version:
				refuse(protocol.CodeVersionConflict, "v%d is already stored with different content", c.Version)
				continue
			case s.erased:
				// A holder that pulled only this later version would never
				// see the erasure, nor purge what it erased.
				refuse(protocol.CodeErased, "erased at v%d; an erasure is final, no version may follow it", s.version)
				continue
			case s.kind != string(c.Kind):
				refuse(protocol.CodeInvalidField, "kind cannot change from %s to %s", s.kind, c.Kind)
				continue
			}
		}
		switch c.Kind {
		case protocol.KindProfile, protocol.KindComment, protocol.KindTranslation, protocol.KindFlag:
			broken, err := st.checkRules(ctx, tx, it)
			if err != nil {
				return err
			}
			if broken != nil {
				res.Refused = append(res.Refused, protocol.Refusal{Line: it.line, Seq: c.Seq, ID: c.ID, Version: c.Version,
					Code: broken.Code, Reason: broken.Message})
				continue
			}
		}
		st.head++
		var publishAt, ref any // NULL unless set
		if c.PublishAt != nil {
			publishAt = toMillis(*c.PublishAt)
		}
		if it.ref != "" {
			ref = it.ref
		}
		// Written by flush at the end of the chunk, in this order: a later
		// version of the same entity in the batch overwrites this one.
		// Once public, an entity stays of concern to public holders: a later
		// version that is not public withdraws it from them (mirrors.go).
		everPublic := c.Public() || st.have[c.ID].everPublic
		st.rows = append(st.rows, st.head, c.ID, c.Owner, string(c.Kind), c.Version, string(c.Visibility),
			boolInt(c.Deleted), boolInt(c.Erased), publishAt, c.UpdatedAt.UTC().Format(time.RFC3339Nano), appliedAt,
			it.stored, it.signed.Sig, it.hash[:], c.KeyID, ref, boolInt(everPublic))
		st.have[c.ID] = stored{version: c.Version, kind: string(c.Kind), hash: it.hash[:], visibility: string(c.Visibility),
			deleted: c.Deleted, erased: c.Erased, publishAt: c.PublishAt, everPublic: everPublic}
		res.Applied++
		if c.Erased {
			st.erasures++
			if err := recordErasure(ctx, tx, st.head, c, it.eraseReason, appliedAt, everPublic); err != nil {
				return err
			}
		}
	}
	if err := st.flush(ctx, tx); err != nil {
		return err
	}
	return syncBlobRefs(ctx, tx, st, todo) // attachments (blobs.go)
}

// stored is what the hub holds of an entity, for version checks and the
// rules between entities.
type stored struct {
	version    int64
	kind       string
	hash       []byte
	visibility string
	deleted    bool
	erased     bool
	publishAt  *time.Time
	// everPublic: some version was public, so mirrors may hold it.
	everPublic bool
}

// want adds id to the chunk's stored-versions query unless the batch
// already knows it.
func (st *applyState) want(id string) {
	if _, seen := st.have[id]; seen {
		return
	}
	if len(st.ids) > 1 {
		st.ids = append(st.ids, ',')
	}
	// Entity ids are validated: no character needs escaping.
	st.ids = append(append(append(st.ids, '"'), id...), '"')
}

// applyBatch applies a verified batch, its refusals and the pusher's new
// checkpoint in one transaction. Pushes and hub authoring both come here.
func (h *Hub) applyBatch(ctx context.Context, b *batch) (*protocol.PushResult, error) {
	if err := h.prepareApply(ctx); err != nil {
		return nil, err
	}
	h.writeMu.Lock()
	defer h.writeMu.Unlock()
	hd := b.header
	now := h.now().UTC()
	res := &protocol.PushResult{Node: hd.Node, Epoch: hd.Epoch}
	var (
		head       int64
		applied    int64
		erasures   int
		epochReset bool
	)
	err := h.db.WriteTx(ctx, func(tx *sql.Tx) error {
		// Reset per attempt: nothing of a rolled-back attempt may leak.
		res.Applied, res.Duplicates, res.Refused = 0, 0, nil
		// From the table, not memory: another process on the same database
		// (the CLI publishing, say) may have committed since.
		if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(hub_seq), 0) FROM entities`).Scan(&head); err != nil {
			return fmt.Errorf("read hub_seq: %w", err)
		}
		var epoch string
		if err := tx.QueryRowContext(ctx, `SELECT epoch, applied_seq FROM nodes WHERE id = ?`, hd.Node).Scan(&epoch, &applied); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return protocol.Errorf(protocol.CodeForbidden, "node %q is not registered", hd.Node)
			}
			return fmt.Errorf("read checkpoint: %w", err)
		}
		if err := checkpointCheck(hd, epoch, applied); err != nil {
			return err
		}
		if b.dupBelow > 0 && (hd.Epoch != epoch || applied < b.dupBelow) {
			// Another push changed the node's checkpoint while this one was
			// read: the records skipped as processed may not be.
			return protocol.Errorf(protocol.CodeEpochMismatch, "the checkpoint of %s changed during this push (epoch %q, applied_seq %d); push again", hd.Node, epoch, applied)
		}
		epochReset = hd.Epoch != epoch
		if epochReset {
			if _, err := tx.ExecContext(ctx, `INSERT INTO epochs (node, epoch, started_at, prev_epoch, prev_applied_seq) VALUES (?, ?, ?, ?, ?)`,
				hd.Node, hd.Epoch, toMillis(now), epoch, applied); err != nil {
				return fmt.Errorf("record epoch: %w", err)
			}
			applied = 0
		}

		// Records are taken in body order, a chunk at a time as soon as
		// the chunk is verified: one query for the chunk's stored versions,
		// then the writes.
		st := &applyState{h: h, hd: hd, applied: applied, res: res, head: head, now: now,
			next: max(applied, hd.FromSeq-1) + 1, last: hd.FromSeq - 1, have: make(map[string]stored, len(b.items))}
		defer st.close()
		for start := 0; start < len(b.items); start += applyChunk {
			chunk := b.items[start:min(start+applyChunk, len(b.items))]
			for _, it := range chunk {
				if it.done != nil {
					<-it.done
				}
				h.recheckKey(it)
			}
			if err := st.applyChunk(ctx, tx, chunk); err != nil {
				return err
			}
		}
		head, erasures = st.head, st.erasures
		if st.missing == 0 && st.next <= hd.ToSeq && !b.truncated {
			st.missing = st.next // the body ended before the range did
		}
		res.MissingSeq = st.missing
		appliedAt := toMillis(now)

		if len(res.Refused) > 0 {
			// Seq and version checks refuse at different moments; report
			// in body order.
			slices.SortStableFunc(res.Refused, func(a, b protocol.Refusal) int { return cmp.Compare(a.Line, b.Line) })
			if err := insertRefusals(ctx, tx, hd.Node, now, res.Refused); err != nil {
				return err
			}
		}
		// The checkpoint covers every seq a record carried, refused records
		// included (they are reported, not retried), up to the first seq of
		// the range none carried, or as far as was read when truncated.
		applied = max(applied, st.next-1)
		res.Truncated = b.truncated
		if _, err := tx.ExecContext(ctx, `UPDATE nodes SET epoch = ?, applied_seq = ?, head_seq = ?, last_push_at = ?,
			last_success_at = ?, refusal_count = refusal_count + ? WHERE id = ?`,
			hd.Epoch, applied, max(hd.HeadSeq, applied), appliedAt, appliedAt, len(res.Refused), hd.Node); err != nil {
			return fmt.Errorf("store checkpoint: %w", err)
		}
		return nil
	})
	if err != nil {
		var pe *protocol.Error
		if errors.As(err, &pe) {
			return nil, pe
		}
		return nil, fmt.Errorf("apply push of %s: %w", hd.Node, err)
	}
	h.mu.Lock()
	if n := h.nodes[hd.Node]; n != nil {
		n.epoch = hd.Epoch
		n.appliedSeq = applied
		n.headSeq = max(hd.HeadSeq, applied)
	}
	h.mu.Unlock()
	if res.Applied > 0 {
		h.advanceHead(head)
	}
	if erasures > 0 {
		h.kickHousekeeping()
	}
	res.AppliedSeq = applied
	res.HubSeq = h.head.Load()
	if epochReset {
		h.log.Info("node started a new epoch", "node", hd.Node, "epoch", hd.Epoch)
	}
	if res.MissingSeq > 0 {
		h.log.Warn("push lacks a seq of its range; checkpoint held below it", "node", hd.Node,
			"from", hd.FromSeq, "to", hd.ToSeq, "missing_seq", res.MissingSeq, "applied_seq", applied)
	}
	if len(res.Refused) > 0 {
		h.log.Warn("push refusals", "node", hd.Node, "refused", len(res.Refused), "first_code", string(res.Refused[0].Code))
	}
	return res, nil
}

// storedVersions reads what the hub holds of a chunk's entities, their ids
// a JSON array.
const storedVersions = `SELECT id, version, kind, hash, visibility, deleted, erased, publish_at, ever_public FROM entities WHERE id IN (SELECT value FROM json_each(?))`

// applyStmts are the apply path's statements, each prepared once on the
// writer's connection: the upsert of insertRows rows has hundreds of
// parameters, and SQLite parsing it again in every push's transaction cost
// about a tenth of the transaction's time.
type applyStmts struct {
	mu sync.Mutex
	m  map[string]*sql.Stmt
}

// prepareApply prepares the apply path's statements once. It runs before
// the write transaction: the writer has a single connection, which the
// transaction holds.
func (h *Hub) prepareApply(ctx context.Context) error {
	h.stmts.mu.Lock()
	defer h.stmts.mu.Unlock()
	if h.stmts.m != nil {
		return nil
	}
	m := make(map[string]*sql.Stmt)
	for _, q := range []string{upsertEntities(insertRows), upsertEntities(1), storedVersions} {
		stmt, err := h.db.Writer().PrepareContext(ctx, q)
		if err != nil {
			for _, s := range m {
				s.Close()
			}
			return fmt.Errorf("prepare apply statements: %w", err)
		}
		m[q] = stmt
	}
	h.stmts.m = m
	return nil
}

// txStmt returns the prepared statement of query for tx; database/sql
// reuses the statement prepared on the writer's connection.
func (h *Hub) txStmt(ctx context.Context, tx *sql.Tx, query string) (*sql.Stmt, error) {
	h.stmts.mu.Lock()
	stmt := h.stmts.m[query]
	h.stmts.mu.Unlock()
	if stmt == nil {
		return tx.PrepareContext(ctx, query)
	}
	return tx.StmtContext(ctx, stmt), nil
}

// upsertEntities writes n entities, entityCols arguments each. SQLite takes
// the rows in order, so a row sees those before it in the same statement.
func upsertEntities(n int) string {
	var b strings.Builder
	b.WriteString(`INSERT INTO entities (hub_seq, id, owner, kind, version, visibility, deleted, erased,
	publish_at, updated_at, applied_at, change_z, sig, hash, key_id, ref, ever_public)
VALUES `)
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
	}
	b.WriteString(`
ON CONFLICT (id) DO UPDATE SET hub_seq = excluded.hub_seq, kind = excluded.kind, version = excluded.version,
	visibility = excluded.visibility, deleted = excluded.deleted, erased = excluded.erased,
	publish_at = excluded.publish_at, updated_at = excluded.updated_at, applied_at = excluded.applied_at,
	change_z = excluded.change_z, sig = excluded.sig, hash = excluded.hash, key_id = excluded.key_id, ref = excluded.ref,
	ever_public = MAX(entities.ever_public, excluded.ever_public)`)
	return b.String()
}

// insertRefusals records refusals and keeps only the newest maxKeptRefusals
// of the node.
func insertRefusals(ctx context.Context, tx *sql.Tx, node string, now time.Time, refused []protocol.Refusal) error {
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO rejections (node, at, line, seq, entity, version, code, reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return fmt.Errorf("record refusals: %w", err)
	}
	defer stmt.Close()
	for i := range refused {
		r := &refused[i]
		r.At = now
		if _, err := stmt.ExecContext(ctx, node, toMillis(now), r.Line, r.Seq, r.ID, r.Version, string(r.Code), r.Reason); err != nil {
			return fmt.Errorf("record refusals: %w", err)
		}
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM rejections WHERE node = ? AND rowid_ <=
		(SELECT rowid_ FROM rejections WHERE node = ? ORDER BY rowid_ DESC LIMIT 1 OFFSET ?)`, node, node, maxKeptRefusals); err != nil {
		return fmt.Errorf("prune refusals: %w", err)
	}
	return nil
}

// handlePush is POST /v1/push.
func (h *Hub) handlePush(w http.ResponseWriter, r *http.Request) {
	p, err := h.authenticate(r.Header.Get("Authorization"))
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	if p.node == "" {
		h.writeError(w, r, protocol.Errorf(protocol.CodeForbidden, "only nodes push"))
		return
	}
	h.pushing.Add(1)
	defer func() {
		h.pushedAt.Store(time.Now().UnixMilli())
		h.pushing.Add(-1)
	}()
	body, release, err := h.pushBody(r.Header.Get("Content-Encoding"), http.MaxBytesReader(w, r.Body, h.cfg.MaxRequestBytes))
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	defer release()
	b, err := h.readPush(r.Context(), body, p.node)
	var res *protocol.PushResult
	if err == nil {
		res, err = h.applyBatch(r.Context(), b)
		h.finish(b.ticket)
	}
	h.ops.metrics.observePush(res, err)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

// pushBody returns the inflated reader of a push body sent with Content-Encoding
// enc, and a function that gives back what it borrowed. The reader stops at
// the batch limit, but only between lines: one endless line of a compression
// bomb would be scanned to its end, so past the limit and two maximal lines,
// which no batch can have a use for, it fails.
func (h *Hub) pushBody(enc string, body io.Reader) (io.Reader, func(), error) {
	limit := h.cfg.MaxBatchBytes + 2*(protocol.MaxChangeBytes+4096)
	switch enc {
	case "", "identity":
		return body, func() {}, nil
	case "gzip":
		zr, err := gzip.NewReader(body)
		if err != nil {
			return nil, nil, protocol.Errorf(protocol.CodeBadRequest, "push body is not gzip: %v", err)
		}
		return &capReader{r: zr, n: limit}, func() { zr.Close() }, nil
	case "zstd":
		zr := zstdDecoders.Get().(*zstd.Decoder)
		if err := zr.Reset(body); err != nil {
			zstdDecoders.Put(zr)
			return nil, nil, protocol.Errorf(protocol.CodeBadRequest, "push body is not zstd: %v", err)
		}
		return &capReader{r: zr, n: limit}, func() {
			zr.Reset(nil) // drop the request body
			zstdDecoders.Put(zr)
		}, nil
	}
	return nil, nil, protocol.Errorf(protocol.CodeBadRequest, "unsupported Content-Encoding %q; send gzip, zstd or none", enc)
}

// zstdDecoders keeps decoders between pushes, each with its buffers. They
// decode in the request's goroutine (concurrency 1): the cores are busy
// verifying signatures already. A frame whose window passes
// protocol.MaxZstdWindow is refused before its window is allocated.
var zstdDecoders = sync.Pool{New: func() any {
	zr, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(protocol.MaxZstdWindow))
	if err != nil {
		panic(fmt.Sprintf("zstd decoder options: %v", err)) // constant options
	}
	return zr
}}

// errInflatedTooLarge refuses a compressed push that inflates far past the
// batch limit.
var errInflatedTooLarge = protocol.Errorf(protocol.CodeBatchTooLarge, "push body inflates past the batch size limit")

// capReader fails with errInflatedTooLarge after n bytes.
type capReader struct {
	r io.Reader
	n int64
}

func (c *capReader) Read(p []byte) (int, error) {
	if c.n <= 0 {
		return 0, errInflatedTooLarge
	}
	if int64(len(p)) > c.n {
		p = p[:c.n]
	}
	n, err := c.r.Read(p)
	c.n -= int64(n)
	return n, err
}
