package node

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"regexp"
	"strings"

	"github.com/bikfed/bikfed/internal/atrest"
	"github.com/bikfed/bikfed/internal/sqlitedb"
	"github.com/bikfed/bikfed/protocol"
	"modernc.org/sqlite"
)

// An entity's signed change is stored once, compressed, in change_z
// (migrations/0018_changes_at_rest.sql). change, hash, key_id and body are
// virtual columns derived from it: change gives back the signed bytes, hash
// their SHA-256 (read by the verify and reconcile digests), key_id the key
// that signed them, and body the change's
// body, unless body_own holds a body of the node's own that the change does
// not carry (a scheduled version not signed yet, a local entity that is never
// signed, an own body that differs from what was signed). bodyNull in body_own
// stands for a NULL body over a change that has one.
const bodyNull = ""

// changesAtRestVersion is the migration whose Go part migrateChangesAtRest is.
const changesAtRestVersion = 18

// atRest and pageSize are options every Open of node.db passes. An entity's
// row is about 600 bytes: a 4 KiB page holds six and leaves an eighth of
// itself empty, a 16 KiB page holds twenty-seven. A node.db made before keeps
// its 4 KiB pages.
var (
	atRest   = sqlitedb.MigrationStep(changesAtRestVersion, migrateChangesAtRest)
	pageSize = sqlitedb.PageSize(16 << 10)
)

func init() {
	// node_change_body(x) is the body of the change x holds (compressed or
	// not), as a pull stores it: NULL when the change has none.
	sqlite.MustRegisterDeterministicScalarFunction("node_change_body", 1,
		func(_ *sqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
			b, err := atrest.Bytes(args[0])
			if err != nil || b == nil {
				return nil, err
			}
			if b, err = atrest.Decompress(b); err != nil {
				return nil, err
			}
			body, err := protocol.ChangeBody(b)
			if err != nil {
				return nil, fmt.Errorf("node_change_body: %w", err)
			}
			if s := pulledBody(body); s != nil {
				return *s, nil
			}
			return nil, nil
		})
}

// pulledBody is what entities.body holds for a change's body: NULL for none.
func pulledBody(body []byte) *string {
	if len(body) == 0 || string(body) == "null" {
		return nil
	}
	s := string(body)
	return &s
}

// ownBody is body_own for an entity whose body is body (nil for NULL) and
// whose stored change is change (signed bytes, nil for none): NULL when the
// change's body is that body, else the body itself.
func ownBody(body *string, change []byte) (any, error) {
	var derived *string
	if change != nil {
		b, err := protocol.ChangeBody(change)
		if err != nil {
			return nil, err
		}
		derived = pulledBody(b)
	}
	switch {
	case body == nil && derived == nil:
		return nil, nil
	case body == nil:
		return bodyNull, nil
	case derived != nil && *derived == *body:
		return nil, nil
	}
	return *body, nil
}

// updateOf matches the column list of a trigger's UPDATE OF clause.
var updateOf = regexp.MustCompile(`(?i)(AFTER UPDATE OF )([\w, ]+?)( ON entities)`)

// migrateChangesAtRest compresses every entity's change into change_z,
// keeps in body_own only the bodies the change does not give, and turns
// change and body into the virtual columns the rest of the schema reads.
// The triggers and indexes that read them are made again from their own SQL;
// a trigger fired by an update of body or change is now fired by an update of
// the columns they derive from.
func migrateChangesAtRest(ctx context.Context, tx *sql.Tx) error {
	rewrite := func(q string) string {
		return updateOf.ReplaceAllStringFunc(q, func(m string) string {
			p := updateOf.FindStringSubmatch(m)
			var cols []string
			seen := map[string]bool{}
			for _, c := range strings.Split(p[2], ",") {
				c = strings.TrimSpace(c)
				var to []string
				switch c {
				case "body":
					to = []string{"body_own", "change_z"}
				case "change":
					to = []string{"change_z"}
				default:
					to = []string{c}
				}
				for _, c := range to {
					if !seen[c] {
						seen[c] = true
						cols = append(cols, c)
					}
				}
			}
			return p[1] + strings.Join(cols, ", ") + p[3]
		})
	}
	return sqlitedb.WithoutDependents(ctx, tx, "entities", rewrite, func() error {
		for _, q := range []string{
			`ALTER TABLE entities RENAME COLUMN change TO change_z`,
			`ALTER TABLE entities RENAME COLUMN body TO body_own`,
			// Both right-hand sides read the row as it was: change_z still
			// holds the signed bytes when its body is compared.
			`UPDATE entities SET
				body_own = CASE WHEN body_own IS node_change_body(change_z) THEN NULL ELSE COALESCE(body_own, '') END,
				change_z = atrest_compress(change_z)`,
			`ALTER TABLE entities DROP COLUMN hash`,
			`ALTER TABLE entities DROP COLUMN key_id`,
			`ALTER TABLE entities ADD COLUMN change BLOB GENERATED ALWAYS AS (atrest_decompress(change_z)) VIRTUAL`,
			`ALTER TABLE entities ADD COLUMN hash BLOB GENERATED ALWAYS AS (atrest_sha256(change_z)) VIRTUAL`,
			`ALTER TABLE entities ADD COLUMN key_id TEXT GENERATED ALWAYS AS (json_extract(CAST(atrest_decompress(change_z) AS TEXT), '$.key_id')) VIRTUAL`,
			`ALTER TABLE entities ADD COLUMN body TEXT GENERATED ALWAYS AS (NULLIF(COALESCE(body_own, node_change_body(change_z)), '')) VIRTUAL`,
		} {
			if _, err := tx.ExecContext(ctx, q); err != nil {
				return fmt.Errorf("compress changes: %w", err)
			}
		}
		return nil
	})
}
