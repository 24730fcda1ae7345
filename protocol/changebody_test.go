package protocol

import (
	"bytes"
	"testing"
	"time"
)

func TestChangeBody(t *testing.T) {
	key, err := GenerateKey("be")
	if err != nil {
		t.Fatal(err)
	}
	id, _ := NewEntityID("be", time.Now())
	for _, body := range []string{`{"title":"A \u003c b","text":"x"}`, ``} {
		c := &Change{Protocol: Version, ID: id, Kind: KindPost, Owner: "be", Version: 1, Seq: 1,
			UpdatedAt: time.Now().UTC(), Visibility: VisibilityCommunity}
		if body != "" {
			c.Body = []byte(body)
		}
		s, err := key.Sign(c)
		if err != nil {
			t.Fatal(err)
		}
		// The body is not a valid post: ParseChange refuses it yet gives
		// the change, and ChangeBody must still give the same body.
		parsed, _ := ParseChange(s.Change)
		if parsed == nil {
			t.Fatal("ParseChange gave no change")
		}
		got, err := ChangeBody(s.Change)
		if err != nil || !bytes.Equal(got, parsed.Body) {
			t.Fatalf("ChangeBody = %q, %v; ParseChange's body %q", got, err, parsed.Body)
		}
	}
	// Not validated, but still decoded strictly.
	if _, err := ChangeBody([]byte(`{"v":1,"body":{}} trailing`)); err == nil {
		t.Fatal("trailing bytes accepted")
	}
}
