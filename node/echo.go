package node

import "sync"

// maxEchoes bounds the hashes an echoSet holds, about 100 bytes each: an
// outbox caught up in one go (an import of 100,000 resources) fits, and
// beyond it the changes come back through the ordinary path.
const maxEchoes = 1 << 18

// echoSet holds the hashes of own changes the hub acknowledged, until the
// feed brings them back. Such an echo is the very bytes this node signed
// and still holds (the entity is at that version or later, with those bytes
// at that version), so applying it changes nothing: applyPullSQL's upsert
// and rebaseOnPull both leave an entity alone that already holds the
// change's version with the change's hash. Verifying its signature again
// and writing nothing would only cost a pull after a large push as much as
// a pull of another node's changes. Only an epoch switch re-signs own
// changes at a version they already had, and it empties the set.
type echoSet struct {
	mu sync.Mutex
	m  map[[32]byte]struct{}
	// acks are the hashes in the order they were added, each group with
	// the hub's head when it acknowledged them: the feed brings a change
	// back at or below that head, so once the pull cursor passes it, a
	// hash still held was pulled before the acknowledgement came (or not
	// as it was sent) and is dropped.
	acks []echoAck
}

type echoAck struct {
	upTo   int64
	hashes [][32]byte
}

// add notes hashes of changes the hub acknowledged with its head at upTo.
func (e *echoSet) add(hashes [][32]byte, upTo int64) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.m == nil {
		e.m = make(map[[32]byte]struct{}, len(hashes))
	}
	for i, h := range hashes {
		if len(e.m) >= maxEchoes {
			hashes = hashes[:i]
			break
		}
		e.m[h] = struct{}{}
	}
	if len(hashes) > 0 {
		e.acks = append(e.acks, echoAck{upTo: upTo, hashes: hashes})
	}
}

// take reports for each hash whether it is an echo, and forgets those that
// are: a change comes back once per pull of it.
func (e *echoSet) take(hashes [][32]byte) []bool {
	out := make([]bool, len(hashes))
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.m) == 0 {
		return out
	}
	for i, h := range hashes {
		if _, ok := e.m[h]; ok {
			out[i] = true
			delete(e.m, h)
		}
	}
	return out
}

// passed forgets the hashes acknowledged at or below the pull cursor.
func (e *echoSet) passed(cursor int64) {
	e.mu.Lock()
	defer e.mu.Unlock()
	k := 0
	for k < len(e.acks) && e.acks[k].upTo <= cursor {
		for _, h := range e.acks[k].hashes {
			delete(e.m, h)
		}
		k++
	}
	if k > 0 {
		e.acks = append(e.acks[:0:0], e.acks[k:]...)
	}
}

// reset forgets every hash.
func (e *echoSet) reset() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.m, e.acks = nil, nil
}

// len is how many hashes the set holds.
func (e *echoSet) len() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.m)
}
