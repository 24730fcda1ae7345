package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/bikfed/bikfed/internal/sampledata"
	"github.com/bikfed/bikfed/protocol"
)

// simNode is one simulated SIC of the network benchmark: its own key and
// credential, its own outbox sequence and its own pull cursor, talking to the
// hub over real HTTP like a node's sync loop.
type simNode struct {
	id     string
	key    protocol.Key
	client *protocol.Client
	// verify makes the node check every pulled change's signature. Only a
	// sample of nodes does: 200 machines' verification on this one's cores
	// would be measured as the hub's slowness.
	verify bool

	seq    int64              // the last seq pushed and answered
	owned  []ownedEntity      // what it may update
	drafts []sampledata.Draft // bodies to publish, used in turn
	next   int
	cursor int64 // the pull cursor, kept across phases
	rng    *rand.Rand
}

type ownedEntity struct {
	id      string
	version int64
}

// simTraffic is how the simulated nodes behave: a push of 1 to maxBatch
// changes every pushEvery on average (uniform jitter of ±50 %), a third
// of them updates of the node's earlier resources; a long-poll of longPoll
// always open.
type simTraffic struct {
	pushEvery time.Duration
	maxBatch  int
	longPoll  time.Duration
}

// opStats records every operation's latency and every error, by operation.
type opStats struct {
	mu     sync.Mutex
	times  map[string][]time.Duration
	errs   map[string]int
	sample map[string]string // the first error of each operation
	idle   int               // long-polls that ended with nothing new
}

func newOpStats() *opStats {
	return &opStats{times: map[string][]time.Duration{}, errs: map[string]int{}, sample: map[string]string{}}
}

func (s *opStats) add(op string, d time.Duration, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		s.errs[op]++
		if s.sample[op] == "" {
			s.sample[op] = err.Error()
		}
		return
	}
	s.times[op] = append(s.times[op], d)
}

func (s *opStats) addMany(op string, ds []time.Duration) {
	s.mu.Lock()
	s.times[op] = append(s.times[op], ds...)
	s.mu.Unlock()
}

// summary is one operation's figures.
type opSummary struct {
	n, errors int
	p50, p99  time.Duration
	max       time.Duration
	firstErr  string
}

func (s *opStats) summary(op string) opSummary {
	s.mu.Lock()
	defer s.mu.Unlock()
	sum := opSummary{n: len(s.times[op]), errors: s.errs[op], firstErr: s.sample[op]}
	if sum.n > 0 {
		l := latencyOf(s.times[op])
		sum.p50, sum.p99, sum.max = l.p50, l.p99, l.max
	}
	return sum
}

// sentLog remembers when each change was pushed, by signature, so a puller
// can tell how long the change took to reach it through the hub.
type sentLog struct {
	mu sync.Mutex
	at map[string]sentChange
}

type sentChange struct {
	at    time.Time
	owner string
}

func (l *sentLog) put(changes []protocol.Signed, owner string, at time.Time) {
	l.mu.Lock()
	for _, c := range changes {
		l.at[string(c.Sig)] = sentChange{at, owner}
	}
	l.mu.Unlock()
}

func (l *sentLog) get(sig []byte) (sentChange, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	c, ok := l.at[string(sig)]
	return c, ok
}

// registerNode registers id through the hub's admin API, as `bikfed hub
// register-node --hub URL --admin-token T` does, and returns its enrolment token.
func registerNode(ctx context.Context, hc *http.Client, hubURL, adminToken, id, name string) (string, error) {
	body, _ := json.Marshal(map[string]any{"id": id, "name": name})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, hubURL+"/admin/v1/nodes", bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Authorization", "Bearer "+adminToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return "", fmt.Errorf("register %s: %w", id, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusCreated {
		return "", fmt.Errorf("register %s: %s: %s", id, resp.Status, bytes.TrimSpace(b))
	}
	var out struct {
		Token string `json:"token"`
	}
	if err := json.Unmarshal(b, &out); err != nil || out.Token == "" {
		return "", fmt.Errorf("register %s: no token in %q", id, b)
	}
	return out.Token, nil
}

// newSimNode registers and enrols node id. Its client does not retry: the
// benchmark counts every failed request.
func newSimNode(ctx context.Context, hc *http.Client, tr http.RoundTripper, hubURL, adminToken, id string, n int) (*simNode, error) {
	token, err := registerNode(ctx, hc, hubURL, adminToken, id, "Simulated SIC "+id)
	if err != nil {
		return nil, err
	}
	key, err := protocol.GenerateKey(id)
	if err != nil {
		return nil, err
	}
	ccfg := protocol.DefaultClientConfig(hubURL)
	ccfg.Retries = 0
	ccfg.Transport = tr
	enrol, err := protocol.NewClient(ccfg).Enrol(ctx, protocol.EnrolRequest{Node: id, Token: token, KeyID: key.ID, PublicKey: key.Public(), Epoch: "bench"})
	if err != nil {
		return nil, err
	}
	ccfg.Credential = enrol.Credential
	return &simNode{
		id: id, key: key, client: protocol.NewClient(ccfg),
		drafts: sampledata.Synthetic(id, 64, int64(n)),
		rng:    rand.New(rand.NewPCG(uint64(n), 2026)),
	}, nil
}

// batch signs k changes: new resources, or with probability 1/3 each a new
// version of one the node published before. It does not change the node's
// state: commit does, once the hub applied them.
func (n *simNode) batch(k int, now time.Time) ([]protocol.Signed, []ownedEntity, error) {
	out := make([]protocol.Signed, 0, k)
	owned := make([]ownedEntity, 0, k)
	updated := map[string]bool{}
	for i := range k {
		d := n.drafts[(n.next+i)%len(n.drafts)]
		e := ownedEntity{version: 1}
		if len(n.owned) > 0 && n.rng.IntN(3) == 0 {
			// One version of an entity per push: two would race in the batch.
			if o := n.owned[n.rng.IntN(len(n.owned))]; !updated[o.id] {
				e = ownedEntity{id: o.id, version: o.version + 1}
				updated[o.id] = true
			}
		}
		if e.id == "" {
			id, err := protocol.NewEntityID(n.id, now)
			if err != nil {
				return nil, nil, err
			}
			e = ownedEntity{id: id, version: 1}
		}
		s, err := n.key.Sign(&protocol.Change{Protocol: protocol.Version, ID: e.id, Kind: d.Kind, Owner: n.id, Version: e.version,
			Seq: n.seq + int64(i) + 1, UpdatedAt: now.UTC(), Visibility: protocol.VisibilityPublic, Body: d.Body})
		if err != nil {
			return nil, nil, err
		}
		out, owned = append(out, s), append(owned, e)
	}
	return out, owned, nil
}

// commit records a batch the hub applied.
func (n *simNode) commit(owned []ownedEntity) {
	n.seq += int64(len(owned))
	n.next += len(owned)
	for _, e := range owned {
		if i := slices.IndexFunc(n.owned, func(o ownedEntity) bool { return o.id == e.id }); i >= 0 {
			n.owned[i] = e
		} else {
			n.owned = append(n.owned, e)
		}
	}
}

// push sends one batch of k changes and checks every one was applied.
func (n *simNode) push(ctx context.Context, k int, sent *sentLog) (time.Duration, error) {
	changes, owned, err := n.batch(k, time.Now())
	if err != nil {
		return 0, err
	}
	h := protocol.PushHeader{Node: n.id, Epoch: "bench", FromSeq: n.seq + 1, ToSeq: n.seq + int64(k), HeadSeq: n.seq + int64(k)}
	t0 := time.Now()
	if sent != nil {
		sent.put(changes, n.id, t0)
	}
	res, err := n.client.Push(ctx, h, changes)
	took := time.Since(t0)
	if err != nil {
		return took, err
	}
	if res.Applied != k || len(res.Refused) > 0 || res.AppliedSeq != h.ToSeq {
		return took, fmt.Errorf("push %s %d-%d: applied %d (checkpoint %d), refused %v", n.id, h.FromSeq, h.ToSeq, res.Applied, res.AppliedSeq, res.Refused)
	}
	n.commit(owned)
	return took, nil
}

// pushLoop pushes a batch every t.pushEvery on average until stop is
// closed; the push in flight then completes, so the node's sequence stays
// in step with the hub's checkpoint.
func (n *simNode) pushLoop(stop <-chan struct{}, t simTraffic, stats *opStats, sent *sentLog) {
	// The first push comes anywhere in the first interval, so the nodes
	// together push at their steady rate from the start.
	jitter := time.Duration(float64(t.pushEvery) * n.rng.Float64())
	for {
		select {
		case <-stop:
			return
		case <-time.After(jitter):
		}
		d, err := n.push(context.Background(), 1+n.rng.IntN(t.maxBatch), sent)
		stats.add("push", d, err)
		jitter = time.Duration(float64(t.pushEvery) * (0.5 + n.rng.Float64()))
	}
}

// pullLoop long-polls the changes feed as a running node does: it asks
// again at once after news, keeps its cursor, and stops when ctx ends.
// Each change pushed in the run is timed from its push to its arrival here.
func (n *simNode) pullLoop(ctx context.Context, t simTraffic, stats *opStats, sent *sentLog, keys map[string][]byte) {
	var delivered []time.Duration
	defer func() { stats.addMany("delivery", delivered) }()
	for ctx.Err() == nil {
		t0 := time.Now()
		feed, err := n.client.ChangesAfter(ctx, protocol.FeedQuery{Since: n.cursor, Limit: protocol.MaxFeedPage, Wait: t.longPoll})
		took := time.Since(t0)
		if ctx.Err() != nil {
			return // the phase ended with the long-poll open
		}
		if err == nil && n.verify {
			err = verifyFeed(feed, keys)
		}
		if err != nil {
			stats.add("pull", took, err)
			// As the node does: back off rather than hammer a failing hub.
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
			continue
		}
		if len(feed.Changes) == 0 {
			stats.mu.Lock()
			stats.idle++
			stats.mu.Unlock()
		} else {
			stats.add("pull", took, nil)
		}
		now := time.Now()
		for _, it := range feed.Changes {
			if c, ok := sent.get(it.Sig); ok && c.owner != n.id {
				delivered = append(delivered, now.Sub(c.at))
			}
		}
		n.cursor = feed.Next
	}
}

var errBadSignature = errors.New("a change's signature does not verify")

// verifyFeed checks the signatures of the changes the simulated nodes
// signed (keys holds their public keys); others, the hub's own, are left.
func verifyFeed(feed *protocol.Feed, keys map[string][]byte) error {
	for _, it := range feed.Changes {
		var head struct {
			Owner string `json:"owner"`
		}
		if err := json.Unmarshal(it.Change, &head); err != nil {
			return fmt.Errorf("hub_seq %d: %w", it.HubSeq, err)
		}
		pub, ok := keys[head.Owner]
		if !ok {
			continue
		}
		if !protocol.VerifySignature(pub, it.Change, it.Sig) {
			return fmt.Errorf("hub_seq %d of %s: %w", it.HubSeq, head.Owner, errBadSignature)
		}
	}
	return nil
}
