package protocol

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"unicode/utf8"
)

// decodeFeed reads one page of the changes feed from r, whose size the
// caller bounds. A page laid out as the hub writes it is split without a
// JSON decoder (decodeFeedFast); anything else goes to encoding/json, as
// every page did before, so what is accepted and every error are its.
func decodeFeed(r io.Reader, f *Feed) error {
	// A page is up to a few MiB: starting at a sizeable buffer spares
	// io.ReadAll's first dozen doublings.
	buf := bytes.NewBuffer(make([]byte, 0, 256<<10))
	if _, err := buf.ReadFrom(r); err != nil {
		return err
	}
	b := buf.Bytes()
	var fast Feed
	if decodeFeedFast(b, &fast) {
		fast.Incarnation, fast.LineageSeq = f.Incarnation, f.LineageSeq
		*f = fast
		return nil
	}
	return json.NewDecoder(bytes.NewReader(b)).Decode(f)
}

// decodeFeedFast decodes a page whose members are the protocol's (each once,
// in any order, no insignificant space) and whose values are of their
// type, reporting false whenever encoding/json must decide. A feed item's
// change is only checked to be one JSON object (skipValue), as
// decodeSignedFast checks a push line's: ParseChange reads it when it is
// verified. The change bytes are slices of b, so a page costs one
// allocation for its changes, not one a change; decoding a page was a
// seventh of a pull's CPU time with encoding/json, which reads each change
// three times (find its end, check it, copy it).
func decodeFeedFast(b []byte, f *Feed) bool {
	// No string copy of the page (fastDecoder.s): the one string it holds
	// is read by feedString.
	d := fastDecoder{b: b}
	if !decodeObject(&d, f, feedFields) || d.i != len(b) {
		return false
	}
	// encoding/json makes a list of what it read, even of nothing.
	if f.Changes == nil {
		return false
	}
	if f.You != nil && !utf8.ValidString(f.You.Epoch) {
		return false // encoding/json would replace what is not UTF-8
	}
	return true
}

var feedFields = []fastField[Feed]{
	{"hub_seq", func(d *fastDecoder, f *Feed) bool { return d.int64(&f.HubSeq) }},
	{"next", func(d *fastDecoder, f *Feed) bool { return d.int64(&f.Next) }},
	{"more", func(d *fastDecoder, f *Feed) bool { return d.bool(&f.More) }},
	{"you", func(d *fastDecoder, f *Feed) bool {
		f.You = new(Checkpoint)
		return decodeObject(d, f.You, checkpointFields)
	}},
	{"changes", func(d *fastDecoder, f *Feed) bool {
		return decodeList(d, &f.Changes, func(d *fastDecoder, it *FeedItem) bool { return decodeObject(d, it, feedItemFields) })
	}},
}

var checkpointFields = []fastField[Checkpoint]{
	{"epoch", func(d *fastDecoder, c *Checkpoint) bool { return feedString(d, &c.Epoch) }},
	{"applied_seq", func(d *fastDecoder, c *Checkpoint) bool { return d.int64(&c.AppliedSeq) }},
}

// feedString reads a string without escapes, which is what the hub writes
// for an epoch; one with escapes is left to encoding/json.
func feedString(d *fastDecoder, s *string) bool {
	end, escaped := d.strEnd()
	if end < 0 || escaped {
		return false
	}
	*s = string(d.b[d.i+1 : end-1])
	d.i = end
	return true
}

var feedItemFields = []fastField[FeedItem]{
	{"hub_seq", func(d *fastDecoder, it *FeedItem) bool { return d.int64(&it.HubSeq) }},
	{"change", func(d *fastDecoder, it *FeedItem) bool {
		start := d.i
		if d.i >= len(d.b) || d.b[d.i] != '{' || !d.skipValue(0) {
			return false
		}
		it.Change = d.b[start:d.i:d.i]
		return true
	}},
	{"sig", func(d *fastDecoder, it *FeedItem) bool {
		end, escaped := d.strEnd()
		if end < 0 || escaped {
			return false
		}
		sig := d.b[d.i+1 : end-1]
		for _, c := range sig {
			// base64 would skip line breaks, which JSON refuses in a string.
			if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '/' || c == '=') {
				return false
			}
		}
		out := make([]byte, base64.StdEncoding.DecodedLen(len(sig)))
		n, err := base64.StdEncoding.Decode(out, sig)
		if err != nil {
			return false
		}
		it.Sig = out[:n:n]
		d.i = end
		return true
	}},
}
