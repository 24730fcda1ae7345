package node

import (
	"errors"
	"strings"
	"testing"

	"github.com/bikfed/bikfed/protocol"
)

// A suspension is the node's state, not the change's: an attachment the hub
// refuses to take while the node is suspended is uploaded once it is
// resumed, and its change is not marked refused.
func TestNode_UploadWhileSuspended(t *testing.T) {
	h := newBlobHub(t)
	be := newBlobNode(t, h, "be")
	ref, err := be.Attach(t.Context(), strings.NewReader("plain text"), "notes.txt", "")
	if err != nil {
		t.Fatal(err)
	}
	d := resourceDraft("Notes")
	d.Blobs = []protocol.BlobRef{ref}
	e, err := be.Create(t.Context(), d)
	if err != nil {
		t.Fatal(err)
	}
	h.mu.Lock()
	h.refuse = protocol.Errorf(protocol.CodeSuspended, "node be is suspended by the coordination team")
	h.mu.Unlock()
	if err := be.Push(t.Context()); !errors.Is(err, protocol.ErrSuspended) {
		t.Fatalf("push while suspended: %v, want suspended", err)
	}
	if st := mustStatus(t, be); len(st.Refusals) != 0 || st.Pending != 1 {
		t.Fatalf("after a suspended push: refusals %+v, pending %d", st.Refusals, st.Pending)
	}
	h.mu.Lock()
	h.refuse = nil
	h.mu.Unlock()
	if err := be.Push(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, ok := h.row(e.ID); !ok {
		t.Fatal("the change was not pushed after the suspension ended")
	}
}
