// Command gendict trains the zstd dictionary that internal/atrest compresses
// stored changes with, from the kind of content a node signs: the sample
// data's drafts and synthetic resources, each signed as a change so that the
// dictionary also learns the change's envelope (field names, ids, times).
//
// Run it from the repository root after the content of changes evolves
// enough for the stored ratio to drop, then give the new file the next ID
// (atrest keeps every earlier dictionary so older rows stay readable):
//
//	go run ./internal/atrest/gendict -id 2 -out internal/atrest/dict/2.zdict
package main

import (
	"bytes"
	"flag"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/bikfed/bikfed/internal/sampledata"
	"github.com/bikfed/bikfed/protocol"
	"github.com/klauspost/compress/zstd"
)

func main() {
	id := flag.Uint("id", 1, "dictionary ID written into every frame compressed with it")
	out := flag.String("out", "internal/atrest/dict/1.zdict", "file to write")
	size := flag.Int("size", 96<<10, "bytes of history the dictionary holds")
	flag.Parse()
	if *id == 0 {
		log.Fatal("gendict: ID 0 means no dictionary in a zstd frame")
	}
	samples, err := samples()
	if err != nil {
		log.Fatal(err)
	}
	// The history is what a frame can copy from: samples of every kind, taken
	// in turn until it is full, so no single kind crowds out the others.
	var hist bytes.Buffer
	for i := 0; hist.Len() < *size && i < len(samples); i++ {
		s := samples[(i*7919)%len(samples)]
		hist.Write(s[:min(len(s), *size-hist.Len())])
	}
	dict, err := zstd.BuildDict(zstd.BuildDictOptions{
		ID:       uint32(*id),
		Contents: samples,
		History:  hist.Bytes(),
		Offsets:  [3]int{1, 4, 8},
		Level:    zstd.SpeedFastest,
	})
	if err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(*out, dict, 0o644); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s: %d bytes from %d samples\n", *out, len(dict), len(samples))
}

// samples signs the sample data's drafts of every node and the hub, and
// synthetic resources of a seed the benchmarks do not use, as changes.
func samples() ([][]byte, error) {
	var out [][]byte
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	sign := func(owner string, d sampledata.Draft, seq int) error {
		key, err := protocol.GenerateKey(owner)
		if err != nil {
			return err
		}
		id, err := protocol.NewEntityID(owner, now.Add(time.Duration(seq)*time.Second))
		if err != nil {
			return err
		}
		c := &protocol.Change{Protocol: protocol.Version, ID: id, Kind: d.Kind, Owner: owner, Version: 1, Seq: int64(seq),
			UpdatedAt: now.Add(time.Duration(seq) * time.Second), Visibility: d.Visibility, Body: d.Body}
		s, err := key.Sign(c)
		if err != nil {
			return err
		}
		out = append(out, []byte(s.Change))
		return nil
	}
	for _, owner := range append(sampledata.Nodes(), protocol.HubID) {
		drafts, err := sampledata.Drafts(owner)
		if err != nil {
			return nil, err
		}
		for i, d := range drafts {
			if err := sign(owner, d, i+1); err != nil {
				return nil, err
			}
		}
	}
	for _, owner := range []string{"at", "de", "ie", "si"} {
		for i, d := range sampledata.Synthetic(owner, 500, 1) {
			if err := sign(owner, d, i+1); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}
