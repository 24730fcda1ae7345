package node

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
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
	// Errors name each failed record (the first 1000).
	Errors []ImportError `json:"errors"`
	// Stopped says why reading stopped before the end of the input, when it did
	// (a JSON array broken beyond recovery, a read error).
	Stopped string `json:"stopped,omitempty"`
}

// ImportError is one refused import record.
type ImportError struct {
	// Index is the record's 0-based position in the input.
	Index int `json:"index"`
	// Line is the record's 1-based line, for NDJSON input.
	Line    int                   `json:"line,omitempty"`
	ID      string                `json:"id,omitempty"`
	Code    protocol.Code         `json:"code"`
	Message string                `json:"message"`
	Fields  []protocol.FieldError `json:"fields,omitempty"`
}

// Record is one import record or admin API request body: a draft and, to
// update or to create under a stable id, the entity id.
type Record struct {
	ID string `json:"id,omitempty"`
	Draft
}

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

// Import authors every valid record of r (a JSON array of records or NDJSON,
// one record per line) and reports each invalid one. Records carrying an own
// id update that entity, or create it under that id. Valid records are
// written in batches, each batch one transaction.
func (n *Node) Import(ctx context.Context, r io.Reader) (ImportResult, error) {
	res := ImportResult{Errors: []ImportError{}}
	fail := func(pos recordPos, id string, err error) {
		res.Failed++
		if len(res.Errors) >= maxImportErrors {
			return
		}
		ie := ImportError{Index: pos.index, Line: pos.line, ID: id, Code: protocol.ErrorCode(err), Message: err.Error()}
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
		var created, updated, same int
		var failed []func()
		err := n.write(ctx, func(a *author) error {
			created, updated, same, failed = 0, 0, 0, failed[:0]
			for _, p := range batch {
				_, out, err := a.put(ctx, p.rec.ID, p.rec.Draft, true)
				if err != nil {
					if !isRecordError(err) {
						return err
					}
					failed = append(failed, func() { fail(p.pos, p.rec.ID, err) })
					continue
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
			return nil
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
		batch = batch[:0]
		return nil
	}
	stopped, err := decodeRecords(r, func(pos recordPos, rec Record, err error) error {
		res.Records++
		if err != nil {
			fail(pos, rec.ID, err)
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
		return res, fmt.Errorf("import stopped after %d records (%d created, %d updated stand): %w",
			res.Records, res.Created, res.Updated, err)
	}
	n.log.Info("import", "records", res.Records, "created", res.Created, "updated", res.Updated,
		"unchanged", res.Unchanged, "failed", res.Failed)
	return res, nil
}

// isRecordError tells a record's own fault (reported, the import goes on)
// from a failure of the node (the import stops).
func isRecordError(err error) bool {
	var ve *protocol.ValidationError
	var pe *protocol.Error
	return errors.As(err, &ve) || errors.As(err, &pe)
}
