package protocol

import "encoding/json"

// ChangeBody returns the body of a change's JSON exactly as ParseChange
// gives it in Change.Body, without validating the change: the same bytes for
// the same input on every call, whatever the time or the key directory. A
// store that keeps only the signed bytes derives the body from them with it.
func ChangeBody(raw []byte) (json.RawMessage, error) {
	if len(raw) > MaxChangeBytes {
		return nil, Errorf(CodeRecordTooLarge, "change is %d bytes, limit %d", len(raw), MaxChangeBytes)
	}
	if c, _, ok := decodeChangeFast(raw); ok {
		return c.Body, nil
	}
	c, err := decodeChangeSlow(raw)
	if err != nil {
		return nil, err
	}
	return c.Body, nil
}
