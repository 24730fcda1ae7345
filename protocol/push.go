package protocol

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
)

// A push body is NDJSON: a PushHeader line, then one Signed change per line in
// seq order. Lines are independent, so one broken record is refused by itself
// and the rest of the batch still applies.

// AppendSigned appends s as one JSON object, writing the change bytes verbatim.
func AppendSigned(dst []byte, s Signed) []byte {
	dst = append(dst, `{"change":`...)
	dst = append(dst, s.Change...)
	dst = append(dst, `,"sig":"`...)
	dst = base64.StdEncoding.AppendEncode(dst, s.Sig)
	return append(dst, `"}`...)
}

// AppendFeedItem appends one feed item, writing the change bytes verbatim.
func AppendFeedItem(dst []byte, hubSeq int64, s Signed) []byte {
	dst = append(dst, `{"hub_seq":`...)
	dst = strconv.AppendInt(dst, hubSeq, 10)
	dst = append(dst, `,"change":`...)
	dst = append(dst, s.Change...)
	dst = append(dst, `,"sig":"`...)
	dst = base64.StdEncoding.AppendEncode(dst, s.Sig)
	return append(dst, `"}`...)
}

// EncodePush writes a push body.
func EncodePush(w io.Writer, h PushHeader, changes []Signed) error {
	hb, err := json.Marshal(h)
	if err != nil {
		return fmt.Errorf("encode push header: %w", err)
	}
	buf := make([]byte, 0, 64<<10)
	buf = append(append(buf, hb...), '\n')
	for _, s := range changes {
		buf = append(AppendSigned(buf, s), '\n')
		if len(buf) >= 32<<10 {
			if _, err := w.Write(buf); err != nil {
				return fmt.Errorf("write push: %w", err)
			}
			buf = buf[:0]
		}
	}
	if _, err := w.Write(buf); err != nil {
		return fmt.Errorf("write push: %w", err)
	}
	return nil
}

// PushRecord is one line of a push body: either a signed change or the refusal
// of a line that could not be read as one.
type PushRecord struct {
	Line    int
	Signed  Signed
	Refusal *Refusal
}

// PushReader reads a push body line by line, within the protocol's limits,
// without holding more than one line in memory.
type PushReader struct {
	br         *bufio.Reader
	header     PushHeader
	line       int
	bytes      int64
	changes    int
	maxBytes   int64
	maxChanges int
	acc        []byte
}

// maxLine leaves room around a maximal change for the signature and framing.
const maxLine = MaxChangeBytes + 1024

// NewPushReader reads and checks the header line of a push body.
func NewPushReader(r io.Reader) (*PushReader, error) {
	p := &PushReader{br: bufio.NewReaderSize(r, 64<<10), maxBytes: MaxBatchBytes, maxChanges: MaxBatchChanges}
	line, tooLong, err := p.readLine()
	if err != nil && !(errors.Is(err, io.EOF) && len(line) > 0) {
		return nil, Errorf(CodeBadRequest, "read push header: %v", err)
	}
	if tooLong {
		return nil, Errorf(CodeBadRequest, "push header line longer than %d bytes", maxLine)
	}
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p.header); err != nil {
		return nil, Errorf(CodeMalformedJSON, "push header: %v", err)
	}
	if dec.More() {
		return nil, Errorf(CodeMalformedJSON, "push header: data after the object")
	}
	h := p.header
	if err := ValidNodeID(h.Node); err != nil {
		return nil, Errorf(CodeBadRequest, "push header: %v", err)
	}
	if h.Epoch == "" || len(h.Epoch) > 64 {
		return nil, Errorf(CodeBadRequest, "push header: epoch must be 1 to 64 characters")
	}
	if h.FromSeq < 1 || h.ToSeq < h.FromSeq || h.HeadSeq < h.ToSeq {
		return nil, Errorf(CodeBadRequest, "push header: need 1 <= from_seq (%d) <= to_seq (%d) <= head_seq (%d)", h.FromSeq, h.ToSeq, h.HeadSeq)
	}
	if h.ToSeq-h.FromSeq >= int64(MaxBatchChanges)*4 {
		return nil, Errorf(CodeBatchTooLarge, "push header: seq range %d-%d is wider than a batch may be", h.FromSeq, h.ToSeq)
	}
	return p, nil
}

// SetLimits overrides the batch limits; the hub's configuration may be stricter
// than the protocol's.
func (p *PushReader) SetLimits(maxBytes int64, maxChanges int) {
	p.maxBytes, p.maxChanges = maxBytes, maxChanges
}

// Header returns the push header.
func (p *PushReader) Header() PushHeader { return p.header }

// ErrTruncated is returned by Next when the batch passes a limit: the records
// read so far stand, the rest were not read and must be pushed again.
var ErrTruncated = &Error{Code: CodeBatchTooLarge, Message: "batch passes the size limit; push the rest again"}

// Next returns the next record, io.EOF at the end, ErrTruncated at a limit, or
// the error that stopped reading the body (a cut connection, a gzip error,
// http.MaxBytesReader's limit). A line cut short by such an error is never
// returned as a record: the records before it stand, it and the rest must be
// pushed again.
func (p *PushReader) Next() (PushRecord, error) {
	for {
		line, tooLong, err := p.readLine()
		if err != nil && !errors.Is(err, io.EOF) && !tooLong {
			// The line may have been cut by the failure: refusing it as
			// malformed would advance the checkpoint past a record the node
			// must send again.
			return PushRecord{}, fmt.Errorf("read push: %w", err)
		}
		if len(line) == 0 && err != nil {
			return PushRecord{}, io.EOF
		}
		if len(bytes.TrimSpace(line)) == 0 && !tooLong {
			continue
		}
		if p.changes >= p.maxChanges || p.bytes > p.maxBytes {
			return PushRecord{}, ErrTruncated
		}
		p.changes++
		rec := PushRecord{Line: p.line}
		if tooLong {
			r := nameBrokenLine(line, p.line)
			r.Code, r.Reason = CodeRecordTooLarge, fmt.Sprintf("record longer than %d bytes", maxLine)
			rec.Refusal = &r
			return rec, nil
		}
		if err := decodeSignedLine(line, &rec.Signed); err != nil {
			r := nameBrokenLine(line, p.line)
			r.Code, r.Reason = CodeMalformedJSON, err.Error()
			rec.Refusal = &r
		}
		return rec, nil
	}
}

// DecodeSigned decodes one {"change":…,"sig":…} object, keeping the change bytes verbatim.
func DecodeSigned(b []byte) (Signed, error) {
	var s Signed
	err := decodeSignedLine(b, &s)
	return s, err
}

func decodeSignedLine(line []byte, s *Signed) error {
	if decodeSignedFast(line, s) {
		return nil
	}
	return decodeSignedSlow(line, s)
}

// decodeSignedSlow is decodeSignedLine with encoding/json: it takes any
// layout and names what is wrong.
func decodeSignedSlow(line []byte, s *Signed) error {
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(s); err != nil {
		return fmt.Errorf("decode record: %v", err)
	}
	if dec.More() {
		return fmt.Errorf("decode record: trailing data after the object")
	}
	if len(s.Change) == 0 || s.Change[0] != '{' {
		return fmt.Errorf("decode record: change must be a JSON object")
	}
	if len(s.Sig) == 0 {
		return fmt.Errorf("decode record: sig is missing")
	}
	return nil
}

// decodeSignedFast splits a line laid out exactly as AppendSigned writes it,
// {"change":<object>,"sig":"<base64>"}, without a JSON decoder: the change
// is only checked to be one JSON object (ParseChange reads it later) and the
// signature is decoded as encoding/json would. Any other layout, or anything
// it is not sure of, is left to encoding/json: false means "not decided".
func decodeSignedFast(line []byte, s *Signed) bool {
	const head, mid, tail = `{"change":`, `,"sig":"`, `"}`
	if !bytes.HasPrefix(line, []byte(head)) || !bytes.HasSuffix(line, []byte(tail)) {
		return false
	}
	// The signature is base64, so it cannot hold the separator: the last one
	// is where the change ends, if the line is what it looks like.
	k := bytes.LastIndex(line, []byte(mid))
	if k < len(head) || k+len(mid) > len(line)-len(tail) {
		return false
	}
	change, sig := line[len(head):k], line[k+len(mid):len(line)-len(tail)]
	for _, c := range sig {
		// base64 would skip line breaks that JSON refuses in a string.
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '/' || c == '=') {
			return false
		}
	}
	d := fastDecoder{b: change}
	if len(change) == 0 || change[0] != '{' || !d.skipValue(0) || d.i != len(change) {
		return false
	}
	// One allocation for both: they live and die together.
	buf := make([]byte, len(change)+base64.StdEncoding.DecodedLen(len(sig)))
	copy(buf, change)
	n, err := base64.StdEncoding.Decode(buf[len(change):], sig)
	if err != nil || n == 0 {
		return false
	}
	s.Change = buf[:len(change):len(change)]
	s.Sig = buf[len(change) : len(change)+n : len(change)+n]
	return true
}

// readLine returns the next line without its newline. A line longer than
// maxLine is skipped to its end and reported with its first bytes, so memory
// stays bounded by maxLine whatever the sender does.
func (p *PushReader) readLine() (line []byte, tooLong bool, err error) {
	p.line++
	p.acc = p.acc[:0]
	for {
		frag, err := p.br.ReadSlice('\n')
		p.bytes += int64(len(frag))
		if !tooLong && len(p.acc)+len(frag) > maxLine {
			tooLong = true
			p.acc = p.acc[:min(len(p.acc), 256)]
		}
		if !tooLong {
			p.acc = append(p.acc, frag...)
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if tooLong {
			return p.acc, true, err
		}
		return bytes.TrimRight(p.acc, "\r\n"), false, err
	}
}

var (
	brokenID  = regexp.MustCompile(`"id"\s*:\s*"([a-z0-9-]{2,16}:[0-9A-Z]{26})"`)
	brokenSeq = regexp.MustCompile(`"seq"\s*:\s*([0-9]{1,18})`)
)

// nameBrokenLine finds what it can of a broken record's id and seq, so its
// refusal names it.
func nameBrokenLine(line []byte, n int) Refusal {
	r := Refusal{Line: n}
	if m := brokenID.FindSubmatch(line); m != nil {
		r.ID = string(m[1])
	}
	if m := brokenSeq.FindSubmatch(line); m != nil {
		r.Seq, _ = strconv.ParseInt(string(m[1]), 10, 64)
	}
	return r
}
