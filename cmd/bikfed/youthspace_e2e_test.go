package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/bikfed/bikfed/protocol"
)

// TestE2E_NationalYouthSpaceStaysOnNode: what pt's young people write in
// youth:pt, and the replies to it, stay in pt's node through every sync,
// while a post of the European youth space reaches be.
func TestE2E_NationalYouthSpaceStaysOnNode(t *testing.T) {
	const (
		national = "PT-ONLY-MARKER-8841"
		reply    = "PT-ONLY-REPLY-3307"
		european = "EUROPEAN-YOUTH-MARKER-5126"
	)
	nw := newNetwork(t)
	pt, be := nw.addNode("pt", fastSync...), nw.addNode("be", fastSync...)
	nw.startNode(pt)
	nw.startNode(be)
	dir := t.TempDir()
	post := func(name, space, text string, a protocol.Author) string {
		return writeJSONFile(t, dir, name, protocol.Post{Space: space, Format: "thread", Title: "Olá", Text: text, Language: "pt", Author: a})
	}
	create := func(kind, file string) string {
		t.Helper()
		return createdID(t, mustCLI(t, nil, "node", "create", "--kind", kind, "--visibility", "youth", "--file", file, "--data", pt.dir))
	}

	nationalID := create("post", post("national.json", "youth:pt", "Só para Portugal "+national, protocol.Author{Pseudonym: "pt-rita"}))
	replyID := create("comment", writeJSONFile(t, dir, "reply.json", protocol.Comment{Post: nationalID, Text: "Eu também " + reply,
		Language: "pt", Author: protocol.Author{Pseudonym: "pt-tiago"}}))
	mustCLI(t, nil, "node", "update", nationalID, "--visibility", "youth", "--file", post("national-2.json", "youth:pt", "Editado "+national,
		protocol.Author{Name: "Joana", SIC: "pt"}), "--data", pt.dir)
	europeanID := create("post", post("european.json", "youth", "Para a Europa "+european, protocol.Author{Pseudonym: "pt-rita"}))

	// A node cannot write in another SIC's national youth space, nor as
	// another SIC's young person.
	if _, err := runCLI(t, nil, "node", "create", "--kind", "post", "--visibility", "youth", "--file",
		post("intruder.json", "youth:pt", "x", protocol.Author{Pseudonym: "be-sam"}), "--data", be.dir); err == nil ||
		!strings.Contains(err.Error(), string(protocol.CodeInvalidSpace)) {
		t.Fatalf("be writing in youth:pt: %v, want invalid_space", err)
	}
	if _, err := runCLI(t, nil, "node", "create", "--kind", "post", "--visibility", "youth", "--file",
		post("forged.json", "youth", "x", protocol.Author{Pseudonym: "pt-rita"}), "--data", be.dir); err == nil ||
		!strings.Contains(err.Error(), string(protocol.CodeInvalidAuthor)) {
		t.Fatalf("be writing as pt-rita: %v, want invalid_author", err)
	}

	mustCLI(t, nil, "node", "sync", "--data", pt.dir)
	mustCLI(t, nil, "node", "sync", "--data", be.dir)
	waitFor(t, 30*time.Second, "the European youth post on be", func() error {
		out, err := runCLI(t, nil, "node", "get", europeanID, "--data", be.dir)
		if err != nil {
			return err
		}
		if !strings.Contains(out, european) {
			return fmt.Errorf("be holds %s without its text: %s", europeanID, out)
		}
		return nil
	})
	if err := nw.verify(be); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{nationalID, replyID} {
		if out, err := runCLI(t, nil, "node", "get", id, "--data", be.dir); err == nil {
			t.Fatalf("be holds %s of youth:pt:\n%s", id, out)
		}
	}
	// pt never sent them: the hub, which would refuse them too, refused
	// nothing of pt's.
	if st := nodeStatus(t, pt); st.RefusalCount != 0 || st.Pending != 0 {
		t.Fatalf("pt: %d refusals %+v, %d pending", st.RefusalCount, st.Refusals, st.Pending)
	}
	if out := mustCLI(t, nil, "node", "get", nationalID, "--data", pt.dir); !strings.Contains(out, "Editado "+national) {
		t.Fatalf("pt lost its national post:\n%s", out)
	}

	check := func(when string) {
		t.Helper()
		for _, root := range []string{nw.hubDir, be.dir} {
			grepTree(t, when, root, national, reply, nationalID, replyID)
		}
		for _, log := range []string{nw.hub.log, be.proc.log} {
			grepFile(t, when, log, national, reply)
		}
	}
	check("after a full sync")
	pt.proc.stop()
	be.proc.stop()
	nw.hub.stop()
	check("after shutdown")
}
