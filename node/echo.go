package node

import "sync"

// maxEchoes bounds the hashes an echoSet holds, about 60 bytes each: an
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
}

// add notes hashes of changes the hub acknowledged.
func (e *echoSet) add(hashes [][32]byte) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.m == nil {
		e.m = make(map[[32]byte]struct{}, len(hashes))
	}
	for _, h := range hashes {
		if len(e.m) >= maxEchoes {
			return
		}
		e.m[h] = struct{}{}
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

// reset forgets every hash.
func (e *echoSet) reset() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.m = nil
}

// len is how many hashes the set holds.
func (e *echoSet) len() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.m)
}
