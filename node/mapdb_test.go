package node

import "testing"

// A running node maps node.db into its readers for its search; a one-shot
// command maps nothing, so its resident set is its own memory.
func TestOpen_MapDatabase(t *testing.T) {
	dir := initNode(t, newFakeHub(t), "be")
	for _, mapped := range []bool{false, true} {
		cfg := testConfig(dir)
		cfg.MapDatabase = mapped
		n, err := Open(t.Context(), cfg, testLogger(t))
		if err != nil {
			t.Fatal(err)
		}
		var size int64
		err = n.db.Reader().QueryRow(`PRAGMA mmap_size`).Scan(&size)
		n.Close()
		if err != nil {
			t.Fatal(err)
		}
		// SQLite caps the size it maps just below 2 GiB.
		if (size > 0) != mapped {
			t.Errorf("MapDatabase %v: readers map %d bytes", mapped, size)
		}
	}
}
