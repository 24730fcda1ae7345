package node

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/bikfed/bikfed/protocol"
)

// importBatch is how many records one import transaction writes: large enough
// that the per-transaction cost (fsync at commit) vanishes, small enough that
// the writer is never held for long.
const importBatch = 500

// maxImportErrors caps the errors an import reports; Failed still counts all.
const maxImportErrors = 1000

// maxRecordBytes bounds one import record, whose body must fit in a change.
const maxRecordBytes = protocol.MaxChangeBytes + 4096

// ImportResult summarises a bulk import.
type ImportResult struct {
	Records   int `json:"records"`
	Created   int `json:"created"`
	Updated   int `json:"updated"`
	Unchanged int `json:"unchanged"`
	Failed    int `json:"failed"`
	// Matched counts the records with a ref that were found as an entity an
	// earlier import created: they were updated or left unchanged, never
	// created again.
	Matched int `json:"matched"`
	// Unkeyed counts the records created with neither an id nor a ref:
	// running the same input again would create them again.
	Unkeyed int `json:"unkeyed,omitempty"`
	// Interrupted describes the previous import when it did not finish.
	Interrupted *InterruptedImport `json:"interrupted,omitempty"`
	// Errors name each failed record (the first 1000).
	Errors []ImportError `json:"errors"`
	// Stopped says why reading stopped before the end of the input, when it did
	// (a JSON array broken beyond recovery, a read error).
	Stopped string `json:"stopped,omitempty"`
}

// InterruptedImport is how far an import that did not finish got: every
// record it had read up to Records was committed.
type InterruptedImport struct {
	StartedAt time.Time `json:"started_at"`
	Records   int       `json:"records"`
	Created   int       `json:"created"`
}

// ImportError is one refused import record.
type ImportError struct {
	// Index is the record's 0-based position in the input.
	Index int `json:"index"`
	// Line is the record's 1-based line, for NDJSON input.
	Line    int                   `json:"line,omitempty"`
	ID      string                `json:"id,omitempty"`
	Ref     string                `json:"ref,omitempty"`
	Code    protocol.Code         `json:"code"`
	Message string                `json:"message"`
	Fields  []protocol.FieldError `json:"fields,omitempty"`
}

// Record is one import record or admin API request body: a draft and, to
// update or to create under a stable id, the entity id.
type Record struct {
	ID string `json:"id,omitempty"`
	// Ref names an import record without an id (the sample data's refs,
	// a source system's own key): running an import again finds the entity
	// the ref created and updates it rather than creating another. At most
	// 128 bytes.
	Ref string `json:"ref,omitempty"`
	Draft
}

// maxRefBytes bounds a record's ref.
const maxRefBytes = 128

// DecodeRecord decodes one record strictly: an unknown field is an error, so
// a misspelt field never silently drops data. Errors name the field.
func DecodeRecord(raw []byte) (Record, error) {
	var rec Record
	if len(raw) > maxRecordBytes {
		return rec, protocol.Errorf(protocol.CodeRecordTooLarge, "record is %d bytes, limit %d", len(raw), maxRecordBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&rec); err != nil {
		return Record{}, decodeError(err)
	}
	if dec.More() {
		return Record{}, protocol.Errorf(protocol.CodeMalformedJSON, "trailing data after the record")
	}
	switch {
	case len(rec.Ref) > maxRefBytes:
		return Record{}, fieldError("ref", "%d bytes, limit %d", len(rec.Ref), maxRefBytes)
	case rec.Ref != "" && rec.ID != "":
		return Record{}, fieldError("ref", "a record has an id or a ref, not both")
	case rec.Ref != "" && strings.TrimSpace(rec.Ref) != rec.Ref:
		return Record{}, fieldError("ref", "leading or trailing space")
	}
	return rec, nil
}

// decodeError turns encoding/json's errors into field errors where it can.
func decodeError(err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && te.Field != "" {
		return fieldError(te.Field, "expected %s, got JSON %s", te.Type, te.Value)
	}
	var pe *time.ParseError
	if errors.As(err, &pe) {
		return fieldError("publish_at", "%q is not an RFC 3339 time", pe.Value)
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return fieldError(strings.Trim(name, `"`), "unknown field")
	}
	return protocol.Errorf(protocol.CodeMalformedJSON, "%v", err)
}

// recordPos locates a record in the input.
type recordPos struct{ index, line int }

// decodeRecords streams records from r to fn: a JSON array when the first
// non-space byte is '[', NDJSON otherwise. A record that fails to decode is
// passed with its error; fn's own error stops the stream. The returned string
// says why reading stopped early, if it did.
func decodeRecords(r io.Reader, fn func(pos recordPos, rec Record, err error) error) (stopped string, err error) {
	br := bufio.NewReaderSize(r, 64<<10)
	first, err := firstByte(br)
	if errors.Is(err, io.EOF) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read import: %w", err)
	}
	if first == '[' {
		return decodeArray(br, fn)
	}
	return decodeNDJSON(br, fn)
}

// firstByte skips a UTF-8 byte order mark and white space and peeks at the next byte.
func firstByte(br *bufio.Reader) (byte, error) {
	if bom, err := br.Peek(3); err == nil && string(bom) == "\xef\xbb\xbf" {
		br.Discard(3)
	}
	for {
		b, err := br.ReadByte()
		if err != nil {
			return 0, err
		}
		switch b {
		case ' ', '\t', '\r', '\n':
			continue
		}
		return b, br.UnreadByte()
	}
}

func decodeArray(br *bufio.Reader, fn func(recordPos, Record, error) error) (string, error) {
	dec := json.NewDecoder(br)
	if _, err := dec.Token(); err != nil {
		return "", fmt.Errorf("read import: %w", err)
	}
	for i := 0; dec.More(); i++ {
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			if !isSyntaxError(err) {
				return "", fmt.Errorf("read import: %w", err)
			}
			// A syntax error leaves the decoder out of step with the input:
			// nothing after it can be trusted to be a record boundary.
			if ferr := fn(recordPos{index: i}, Record{}, protocol.Errorf(protocol.CodeMalformedJSON, "%v", err)); ferr != nil {
				return "", ferr
			}
			return fmt.Sprintf("record %d is not valid JSON; the rest of the input was not read", i), nil
		}
		rec, err := DecodeRecord(raw)
		if ferr := fn(recordPos{index: i}, rec, err); ferr != nil {
			return "", ferr
		}
	}
	if _, err := dec.Token(); err != nil {
		if !isSyntaxError(err) {
			return "", fmt.Errorf("read import: %w", err)
		}
		return fmt.Sprintf("read array end: %v", err), nil
	}
	return "", nil
}

// isSyntaxError tells broken input from a failing reader (a body over its
// size limit, a dropped connection), which must fail the import loudly.
func isSyntaxError(err error) bool {
	var se *json.SyntaxError
	return errors.As(err, &se) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF)
}

func decodeNDJSON(br *bufio.Reader, fn func(recordPos, Record, error) error) (string, error) {
	var acc []byte
	index := 0
	for line := 1; ; line++ {
		acc = acc[:0]
		tooLong := false
		var rerr error
		for {
			frag, err := br.ReadSlice('\n')
			if !tooLong && len(acc)+len(frag) > maxRecordBytes {
				tooLong = true
			}
			if !tooLong {
				acc = append(acc, frag...)
			}
			if errors.Is(err, bufio.ErrBufferFull) {
				continue
			}
			rerr = err
			break
		}
		if rerr != nil && !errors.Is(rerr, io.EOF) {
			return "", fmt.Errorf("read import line %d: %w", line, rerr)
		}
		trimmed := bytes.TrimSpace(acc)
		if len(trimmed) > 0 || tooLong {
			pos := recordPos{index: index, line: line}
			index++
			var ferr error
			if tooLong {
				ferr = fn(pos, Record{}, protocol.Errorf(protocol.CodeRecordTooLarge, "line longer than %d bytes", maxRecordBytes))
			} else {
				rec, err := DecodeRecord(trimmed)
				ferr = fn(pos, rec, err)
			}
			if ferr != nil {
				return "", ferr
			}
		}
		if rerr != nil {
			return "", nil
		}
	}
}

type pendingRecord struct {
	pos recordPos
	rec Record
}

// ImportOption adjusts one import.
type ImportOption func(*importOptions)

type importOptions struct {
	progress func(ImportResult)
}

// WithProgress calls fn after each committed batch with the totals so far:
// everything it reports is durable, so after a crash the last report says
// how far the import got.
func WithProgress(fn func(ImportResult)) ImportOption {
	return func(o *importOptions) { o.progress = fn }
}

// Import authors every valid record of r (a JSON array of records or NDJSON,
// one record per line) and reports each invalid one. Records carrying an own
// id update that entity, or create it under that id. A record without an id
// but with a ref is matched by it against the entities earlier imports
// created, so running an interrupted import again creates nothing twice. Valid records are written in batches, each batch one
// transaction together with the import's progress.
func (n *Node) Import(ctx context.Context, r io.Reader, opts ...ImportOption) (ImportResult, error) {
	var o importOptions
	for _, opt := range opts {
		opt(&o)
	}
	res := ImportResult{Errors: []ImportError{}}
	run, prev, err := n.startImport(ctx)
	if err != nil {
		return res, fmt.Errorf("import: %w", err)
	}
	if prev != nil {
		res.Interrupted = prev
		n.log.Warn("the previous import did not finish; its records are matched, not created again",
			"started_at", prev.StartedAt, "records", prev.Records, "created", prev.Created)
	}
	fail := func(pos recordPos, rec Record, err error) {
		res.Failed++
		if len(res.Errors) >= maxImportErrors {
			return
		}
		ie := ImportError{Index: pos.index, Line: pos.line, ID: rec.ID, Ref: rec.Ref, Code: protocol.ErrorCode(err), Message: err.Error()}
		var ve *protocol.ValidationError
		if errors.As(err, &ve) {
			ie.Code, ie.Fields = ve.Code, ve.Fields
		}
		res.Errors = append(res.Errors, ie)
	}
	batch := make([]pendingRecord, 0, importBatch)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		var created, updated, same, matched, unkeyed int
		var failed []func()
		last := batch[len(batch)-1].pos.index + 1
		err := n.write(ctx, func(a *author) error {
			created, updated, same, matched, unkeyed, failed = 0, 0, 0, 0, 0, failed[:0]
			for _, p := range batch {
				id, key := p.rec.ID, ""
				if id == "" && p.rec.Ref != "" {
					key = "ref:" + p.rec.Ref
					err := a.tx.QueryRowContext(ctx, `SELECT id FROM import_keys WHERE key = ?`, key).Scan(&id)
					if err != nil && !errors.Is(err, sql.ErrNoRows) {
						return fmt.Errorf("match import record: %w", err)
					}
					if id != "" {
						matched++
					}
				}
				ent, out, err := a.put(ctx, id, p.rec.Draft, true)
				if err != nil {
					if !isRecordError(err) {
						return err
					}
					failed = append(failed, func() { fail(p.pos, p.rec, err) })
					continue
				}
				if id == "" && out == outcomeCreated {
					unkeyed++
				}
				if key != "" && out == outcomeCreated {
					if _, err := a.tx.ExecContext(ctx, `INSERT INTO import_keys (key, id) VALUES (?, ?)
						ON CONFLICT (key) DO UPDATE SET id = excluded.id`, key, ent.ID); err != nil {
						return fmt.Errorf("remember import record: %w", err)
					}
				}
				switch out {
				case outcomeCreated:
					created++
				case outcomeUpdated:
					updated++
				default:
					same++
				}
			}
			_, err := a.tx.ExecContext(ctx, `UPDATE imports SET records = ?, created = ? WHERE id = ?`, last, res.Created+created, run)
			return err
		})
		if err != nil {
			return fmt.Errorf("import records %d-%d: %w", batch[0].pos.index, batch[len(batch)-1].pos.index, err)
		}
		for _, f := range failed {
			f()
		}
		res.Created += created
		res.Updated += updated
		res.Unchanged += same
		res.Matched += matched
		res.Unkeyed += unkeyed
		batch = batch[:0]
		if o.progress != nil {
			p := res
			p.Records = last
			o.progress(p)
		}
		return nil
	}
	stopped, err := decodeRecords(r, func(pos recordPos, rec Record, err error) error {
		if cerr := ctx.Err(); cerr != nil {
			return cerr
		}
		res.Records++
		if err != nil {
			fail(pos, rec, err)
			return nil
		}
		batch = append(batch, pendingRecord{pos: pos, rec: rec})
		if len(batch) == importBatch {
			return flush()
		}
		return ctx.Err()
	})
	if err == nil {
		err = flush()
	}
	res.Stopped = stopped
	// Decode errors are reported as read, validation errors at their batch's commit.
	slices.SortStableFunc(res.Errors, func(a, b ImportError) int { return cmp.Compare(a.Index, b.Index) })
	if err != nil {
		return res, fmt.Errorf("import stopped after %d records (%d created, %d updated stand; run it again to go on): %w",
			res.Records, res.Created, res.Updated, err)
	}
	if err := n.finishImport(ctx, run, res.Records); err != nil {
		return res, fmt.Errorf("import: %w", err)
	}
	n.log.Info("import", "records", res.Records, "created", res.Created, "updated", res.Updated,
		"unchanged", res.Unchanged, "matched", res.Matched, "failed", res.Failed)
	return res, nil
}

// startImport records a new run and returns it with the last earlier run
// that did not finish, if any, which it marks as seen.
func (n *Node) startImport(ctx context.Context) (int64, *InterruptedImport, error) {
	var run int64
	var prev *InterruptedImport
	err := n.db.WriteTx(ctx, func(tx *sql.Tx) error {
		var started string
		var p InterruptedImport
		err := tx.QueryRowContext(ctx, `SELECT started_at, records, created FROM imports
			WHERE finished_at IS NULL ORDER BY id DESC LIMIT 1`).Scan(&started, &p.Records, &p.Created)
		switch {
		case err == nil:
			p.StartedAt, _ = time.Parse(time.RFC3339Nano, started)
			prev = &p
		case !errors.Is(err, sql.ErrNoRows):
			return fmt.Errorf("read last import: %w", err)
		}
		now := time.Now().UTC()
		if _, err := tx.ExecContext(ctx, `UPDATE imports SET finished_at = ? WHERE finished_at IS NULL`, fmtTime(now)); err != nil {
			return fmt.Errorf("close last import: %w", err)
		}
		// Only the latest runs are worth keeping.
		if _, err := tx.ExecContext(ctx, `DELETE FROM imports WHERE id <= (SELECT MAX(id) FROM imports) - 100`); err != nil {
			return fmt.Errorf("prune imports: %w", err)
		}
		return tx.QueryRowContext(ctx, `INSERT INTO imports (started_at) VALUES (?) RETURNING id`, fmtTime(now)).Scan(&run)
	})
	return run, prev, err
}

func (n *Node) finishImport(ctx context.Context, run int64, records int) error {
	return n.db.WriteTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE imports SET records = ?, finished_at = ? WHERE id = ?`, records, fmtTime(time.Now().UTC()), run)
		return err
	})
}

// isRecordError tells a record's own fault (reported, the import goes on)
// from a failure of the node (the import stops).
func isRecordError(err error) bool {
	var ve *protocol.ValidationError
	var pe *protocol.Error
	return errors.As(err, &ve) || errors.As(err, &pe)
}
