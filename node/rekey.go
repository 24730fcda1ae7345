package node

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/bikfed/bikfed/internal/sqlitedb"
	"github.com/bikfed/bikfed/protocol"
)

// Rekey enrols a new key for an initialised node with token, an enrolment
// token the coordination team issued when it rotated the node's key (bikfed
// hub node rotate-key). The node keeps its database and content: the old key
// file is set aside as node.key.retired-<key id>, a new key is created and
// enrolled, and, as with any re-initialisation, a new epoch starts, changes
// not yet pushed are re-signed with the new key and the content is
// re-adopted from the hub. hubURL empty keeps the hub the node enrolled with.
// If enrolment fails the token stays unused: run Rekey again with it.
func Rekey(ctx context.Context, dataDir, hubURL, token string, logger *slog.Logger) (*Identity, error) {
	dbPath := filepath.Join(dataDir, dbFile)
	if _, err := os.Stat(dbPath); errors.Is(err, fs.ErrNotExist) {
		return nil, errNotInitialised
	}
	db, err := sqlitedb.Open(ctx, dbPath, migrations(), atRest, pageSize)
	if err != nil {
		return nil, fmt.Errorf("rekey: %w", err)
	}
	ident, err := readIdentity(ctx, db.Reader())
	db.Close()
	if err != nil {
		return nil, fmt.Errorf("rekey: %w", err)
	}
	if hubURL == "" {
		hubURL = ident.HubURL
	}
	keyPath := filepath.Join(dataDir, keyFile)
	seed, err := os.ReadFile(keyPath)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		// Set aside by an earlier attempt that did not finish.
	case err != nil:
		return nil, fmt.Errorf("rekey: %w", err)
	default:
		old := ident.KeyID
		if k, kerr := protocol.KeyFromSeed(ident.Node, seed); kerr == nil {
			old = k.ID
		}
		if err := os.Rename(keyPath, keyPath+".retired-"+old); err != nil {
			return nil, fmt.Errorf("rekey: set the old key aside: %w", err)
		}
	}
	id, err := Init(ctx, dataDir, hubURL, token, logger)
	if err != nil {
		return nil, fmt.Errorf("rekey: %w", err)
	}
	return id, nil
}
