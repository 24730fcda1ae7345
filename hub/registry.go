package hub

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/bikfed/bikfed/protocol"
)

// RegisterNode registers node id (or updates its name) and returns a new
// one-time enrolment token "<id>.<secret>", valid for Config.EnrolTokenTTL.
// Registering an enrolled node again lets it re-enrol, e.g. after losing its
// key or credential; earlier unused tokens of the node stop working.
//
// countries binds the node to the countries it may publish a profile for.
// None given: a new node gets protocol.DefaultCountries, a registered one
// keeps its binding.
func (h *Hub) RegisterNode(ctx context.Context, id, name string, countries ...string) (string, error) {
	if err := protocol.ValidNodeID(id); err != nil {
		return "", fmt.Errorf("register node: %w", protocol.Errorf(protocol.CodeInvalidField, "%v", err))
	}
	if id == protocol.HubID {
		return "", fmt.Errorf("register node: %w", protocol.Errorf(protocol.CodeInvalidField, "%q is the hub's own id", id))
	}
	if err := h.notRemoved(id); err != nil {
		return "", fmt.Errorf("register node: %w", err)
	}
	name = strings.TrimSpace(name)
	if name == "" {
		name = id
	}
	if len(name) > protocol.MaxShortField {
		return "", fmt.Errorf("register node: %w", protocol.Errorf(protocol.CodeInvalidField, "name longer than %d bytes", protocol.MaxShortField))
	}
	if r, ok := protocol.BidiControl(name); ok {
		return "", fmt.Errorf("register node: %w", protocol.Errorf(protocol.CodeInvalidField, "name has the bidirectional control U+%04X", r))
	}
	bind, err := checkCountries(countries)
	if err != nil {
		return "", fmt.Errorf("register node: %w", err)
	}
	secret, err := randomSecret()
	if err != nil {
		return "", fmt.Errorf("register node %s: %w", id, err)
	}
	hash := sha256.Sum256([]byte(secret))
	now := h.now()
	var stored string
	err = h.db.WriteTx(ctx, func(tx *sql.Tx) error {
		// NULL keeps the binding of a registered node; a new one gets the default.
		var set any
		if bind != nil {
			set = strings.Join(bind, ",")
		}
		if err := tx.QueryRowContext(ctx, `INSERT INTO nodes (id, name, created_at, countries) VALUES (?, ?, ?, COALESCE(?, ?))
			ON CONFLICT (id) DO UPDATE SET name = excluded.name, countries = COALESCE(?, countries)
			RETURNING countries`, id, name, toMillis(now), set, strings.Join(protocol.DefaultCountries(id), ","), set).Scan(&stored); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM enrol_tokens WHERE node = ? AND used_at IS NULL`, id); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO enrol_tokens (secret_hash, node, created_at, expires_at) VALUES (?, ?, ?, ?)`,
			hash[:], id, toMillis(now), toMillis(now.Add(h.cfg.EnrolTokenTTL)))
		return err
	})
	if err != nil {
		return "", fmt.Errorf("register node %s: %w", id, err)
	}
	h.mu.Lock()
	n := h.nodes[id]
	if n == nil {
		n = &nodeState{}
		h.nodes[id] = n
	}
	n.name = name
	n.countries = splitCountries(stored)
	h.mu.Unlock()
	h.log.Info("node registered", "node", id, "countries", stored)
	return id + "." + secret, nil
}

// maxCountries bounds how many countries one node may speak for.
const maxCountries = 32

// checkCountries validates a binding and returns it sorted without
// repeats; nil when none is given.
func checkCountries(countries []string) ([]string, error) {
	if len(countries) == 0 {
		return nil, nil
	}
	if len(countries) > maxCountries {
		return nil, protocol.Errorf(protocol.CodeInvalidField, "countries: at most %d", maxCountries)
	}
	out := make([]string, 0, len(countries))
	for _, c := range countries {
		c = strings.ToLower(strings.TrimSpace(c))
		if err := protocol.ValidCountry(c); err != nil {
			return nil, protocol.Errorf(protocol.CodeInvalidField, "countries: %v", err)
		}
		out = append(out, c)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// splitCountries reads the nodes.countries column.
func splitCountries(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

// countriesOf returns the countries node may publish a profile for.
func (h *Hub) countriesOf(node string) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	if n := h.nodes[node]; n != nil {
		return n.countries
	}
	return nil
}

// splitToken splits an enrolment token or credential "<node>.<secret>".
func splitToken(tok string) (node, secret string, ok bool) {
	node, secret, ok = strings.Cut(tok, ".")
	if !ok || protocol.ValidNodeID(node) != nil || len(secret) < 32 || len(secret) > 128 {
		return "", "", false
	}
	return node, secret, true
}

var errBadToken = protocol.Errorf(protocol.CodeUnauthorized, "enrolment token is not valid for this node")

// enrol binds a node's key with a one-time token and issues its credential.
func (h *Hub) enrol(ctx context.Context, req protocol.EnrolRequest) (*protocol.EnrolResponse, error) {
	if err := protocol.ValidNodeID(req.Node); err != nil || req.Node == protocol.HubID {
		return nil, protocol.Errorf(protocol.CodeInvalidField, "node: %q is not a node id", req.Node)
	}
	if len(req.PublicKey) != 32 {
		return nil, protocol.Errorf(protocol.CodeInvalidField, "public_key: must be a 32-byte Ed25519 key")
	}
	if want := protocol.KeyID(req.Node, req.PublicKey); req.KeyID != want {
		return nil, protocol.Errorf(protocol.CodeInvalidField, "key_id: %q does not match the public key (want %q)", req.KeyID, want)
	}
	if req.Epoch == "" || len(req.Epoch) > 64 {
		return nil, protocol.Errorf(protocol.CodeInvalidField, "epoch: must be 1 to 64 characters")
	}
	tokNode, secret, ok := splitToken(req.Token)
	if !ok || tokNode != req.Node {
		return nil, errBadToken
	}
	credSecret, err := randomSecret()
	if err != nil {
		return nil, fmt.Errorf("enrol %s: %w", req.Node, err)
	}
	cred := req.Node + "." + credSecret
	credHash := sha256.Sum256([]byte(cred))
	tokHash := sha256.Sum256([]byte(secret))
	now := h.now()
	var (
		name           string
		enrolledHubSeq int64
		appliedSeq     int64
		head           int64
		countries      string
	)
	// Read before the transaction: the hub's lock is never taken while the
	// writer is held.
	mem := h.lastSync(req.Node)
	err = h.db.WriteTx(ctx, func(tx *sql.Tx) error {
		var node string
		var expires int64
		var used sql.NullInt64
		var usedKey, usedEpoch sql.NullString
		var latest bool
		err := tx.QueryRowContext(ctx, `SELECT t.node, t.expires_at, t.used_at, t.used_key_id, t.used_epoch,
			NOT EXISTS (SELECT 1 FROM enrol_tokens n WHERE n.node = t.node AND n.secret_hash != t.secret_hash AND n.used_at >= t.used_at)
			FROM enrol_tokens t WHERE t.secret_hash = ?`, tokHash[:]).
			Scan(&node, &expires, &used, &usedKey, &usedEpoch, &latest)
		if errors.Is(err, sql.ErrNoRows) || (err == nil && node != req.Node) {
			return errBadToken
		}
		if err != nil {
			return err
		}
		if err := enrolAllowed(ctx, tx, req.Node, req.KeyID); err != nil {
			return err
		}
		if now.UnixMilli() >= expires {
			return protocol.Errorf(protocol.CodeUnauthorized, "enrolment token has expired; ask the coordination team for a new one")
		}
		// The same request again (its answer was lost) gets a new credential,
		// as long as no later enrolment of the node has happened: replaying
		// an old token must never take the node back to an old key or epoch.
		retry := used.Valid && latest && usedKey.String == req.KeyID && usedEpoch.String == req.Epoch
		if used.Valid && !retry {
			return protocol.Errorf(protocol.CodeUnauthorized, "enrolment token has already been used")
		}
		// Key id and epoch are no secrets: both travel in every push. So a
		// retry is only an answer that was lost while the credential it
		// carried has not been used: once the node has pushed or pulled
		// with it, the token is spent, and a copy of it cannot take the
		// node's credential away.
		if retry {
			synced, err := syncedSince(ctx, tx, req.Node, used.Int64, mem)
			if err != nil {
				return err
			}
			if synced {
				return protocol.Errorf(protocol.CodeUnauthorized, "enrolment token has already been used, and the node has synced since; ask the coordination team for a new one")
			}
		}
		if !retry {
			if _, err := tx.ExecContext(ctx, `UPDATE enrol_tokens SET used_at = ?, used_key_id = ?, used_epoch = ? WHERE secret_hash = ?`,
				toMillis(now), req.KeyID, req.Epoch, tokHash[:]); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO keys (key_id, owner, public_key, created_at) VALUES (?, ?, ?, ?)
			ON CONFLICT (key_id) DO NOTHING`, req.KeyID, req.Node, []byte(req.PublicKey), toMillis(now)); err != nil {
			return err
		}
		var oldEpoch string
		var enrolledAt sql.NullInt64
		if err := tx.QueryRowContext(ctx, `SELECT name, epoch, applied_seq, enrolled_at, enrolled_hub_seq, countries FROM nodes WHERE id = ?`, req.Node).
			Scan(&name, &oldEpoch, &appliedSeq, &enrolledAt, &enrolledHubSeq, &countries); err != nil {
			return err
		}
		if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(hub_seq), 0) FROM entities`).Scan(&head); err != nil {
			return err
		}
		if !enrolledAt.Valid {
			enrolledHubSeq = head
		}
		if oldEpoch != req.Epoch {
			if oldEpoch != "" {
				if _, err := tx.ExecContext(ctx, `INSERT INTO epochs (node, epoch, started_at, prev_epoch, prev_applied_seq) VALUES (?, ?, ?, ?, ?)`,
					req.Node, req.Epoch, toMillis(now), oldEpoch, appliedSeq); err != nil {
					return err
				}
			}
			appliedSeq = 0
		}
		_, err = tx.ExecContext(ctx, `UPDATE nodes SET credential_hash = ?, epoch = ?, applied_seq = ?,
			enrolled_at = COALESCE(enrolled_at, ?), enrolled_hub_seq = ? WHERE id = ?`,
			credHash[:], req.Epoch, appliedSeq, toMillis(now), enrolledHubSeq, req.Node)
		return err
	})
	if err != nil {
		var pe *protocol.Error
		if errors.As(err, &pe) {
			return nil, pe
		}
		return nil, fmt.Errorf("enrol %s: %w", req.Node, err)
	}
	// A key added to the table must be in the cache before the node's first
	// push; reloading the whole (small) directory keeps the two identical.
	if err := h.reloadKeys(ctx); err != nil {
		return nil, fmt.Errorf("enrol %s: %w", req.Node, err)
	}
	h.mu.Lock()
	n := h.nodes[req.Node]
	if n == nil {
		n = &nodeState{}
		h.nodes[req.Node] = n
	}
	n.name = name
	n.credHash = credHash[:]
	n.enrolled = true
	n.enrolledHubSeq = enrolledHubSeq
	n.epoch = req.Epoch
	n.appliedSeq = appliedSeq
	n.countries = splitCountries(countries)
	h.mu.Unlock()
	h.log.Info("node enrolled", "node", req.Node, "key_id", req.KeyID, "epoch", req.Epoch)
	return &protocol.EnrolResponse{Node: req.Node, Name: name, Credential: cred, Protocol: protocol.Version, HubSeq: head,
		Countries: splitCountries(countries)}, nil
}

// lastSync is what the hub holds in memory of a node's latest contact with
// its credential: the time of its last pull, written to the database
// lazily, and whether a push is in flight.
type lastSync struct {
	pullAt   int64 // unix ms, 0: never
	inflight bool
}

func (h *Hub) lastSync(node string) lastSync {
	h.mu.Lock()
	defer h.mu.Unlock()
	var ls lastSync
	if n := h.nodes[node]; n != nil {
		if !n.lastPullAt.IsZero() {
			ls.pullAt = n.lastPullAt.UnixMilli()
		}
		ls.inflight = len(n.inflight) > 0
	}
	return ls
}

// syncedSince reports whether node pushed or pulled at or after the unix ms
// since, from the database and from mem, read before the transaction.
func syncedSince(ctx context.Context, tx *sql.Tx, node string, since int64, mem lastSync) (bool, error) {
	if mem.inflight || mem.pullAt >= since && mem.pullAt > 0 {
		return true, nil
	}
	var lastPush, lastPull sql.NullInt64
	if err := tx.QueryRowContext(ctx, `SELECT last_push_at, last_pull_at FROM nodes WHERE id = ?`, node).
		Scan(&lastPush, &lastPull); err != nil {
		return false, fmt.Errorf("read last sync: %w", err)
	}
	return lastPush.Valid && lastPush.Int64 >= since || lastPull.Valid && lastPull.Int64 >= since, nil
}

// principal is who a request authenticated as.
type principal struct {
	node     string // set for a node
	mirror   string // set for a mirror (mirrors.go)
	operator bool
}

// authenticate checks a bearer token against the operator token and the
// nodes' credentials, from memory.
func (h *Hub) authenticate(authz string) (principal, error) {
	tok, ok := strings.CutPrefix(authz, "Bearer ")
	if !ok || tok == "" {
		return principal{}, protocol.Errorf(protocol.CodeUnauthorized, "missing bearer token")
	}
	if subtle.ConstantTimeCompare([]byte(tok), []byte(h.adminToken)) == 1 {
		return principal{operator: true}, nil
	}
	if strings.HasPrefix(tok, protocol.MirrorPrefix) {
		if name, ok := h.authenticateMirror(tok); ok {
			return principal{mirror: name}, nil
		}
		return principal{}, protocol.Errorf(protocol.CodeUnauthorized, "invalid credential")
	}
	node, _, ok := splitToken(tok)
	if ok {
		sum := sha256.Sum256([]byte(tok))
		h.mu.Lock()
		n := h.nodes[node]
		var want []byte
		var suspended bool
		if n != nil {
			want, suspended = n.credHash, n.suspended
		}
		h.mu.Unlock()
		if len(want) == len(sum) && subtle.ConstantTimeCompare(sum[:], want) == 1 {
			if suspended {
				return principal{}, protocol.Errorf(protocol.CodeSuspended, "node %s is suspended by the coordination team", node)
			}
			return principal{node: node}, nil
		}
	}
	return principal{}, protocol.Errorf(protocol.CodeUnauthorized, "invalid credential")
}
