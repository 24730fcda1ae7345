package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/bikfed/bikfed/internal/sampledata"
	"github.com/bikfed/bikfed/internal/sqlitedb"
)

// noopSmall is the size of the small aggregate the no-op commands are
// compared against.
const noopSmall = 1000

// noopRuns is how many times each command is run; the median is reported.
const noopRuns = 5

// noopReport is what a node's own work costs when nothing changed, at two
// sizes of the aggregate.
type noopReport struct {
	small, large noopCosts
	versionWall  time.Duration // `bikfed version`: the process's start alone
}

// noopCosts are the figures of one node.
type noopCosts struct {
	entities     int
	syncPages    int64 // a no-op `bikfed node sync`
	syncWall     time.Duration
	statusPages  int64 // `bikfed node status`
	statusWall   time.Duration
	servePages   int64 // `bikfed node serve`, started, its start-up work done, stopped
	settledAfter time.Duration
	// The hub holding the node's aggregate, started on a copy: the pages
	// each of its databases read.
	hubPages, portalPages int64
	hubSettled            time.Duration
}

// benchNoop measures the node commands that must not grow with the
// aggregate, and a hub's start: on a node holding noopSmall entities,
// pulled from a hub of its own, and on largeDir, a node that pulled the
// whole aggregate from the hub at largeURL, in largeHub, still running.
func benchNoop(ctx context.Context, cfg benchConfig, dir, largeURL, largeHub, largeDir string) (noopReport, error) {
	rep := noopReport{}
	smallHub := filepath.Join(dir, "noop", "hub")
	smallDir, smallURL, stop, err := noopSmallNode(ctx, cfg, filepath.Join(dir, "noop"))
	if err != nil {
		return rep, err
	}
	defer stop()
	var walls []time.Duration
	for range noopRuns {
		t0 := time.Now()
		if _, err := cli(cfg.bin, "version"); err != nil {
			return rep, err
		}
		walls = append(walls, time.Since(t0))
	}
	slices.Sort(walls)
	rep.versionWall = walls[len(walls)/2]
	fmt.Fprintf(os.Stderr, "no-op commands: a node of %d entities…\n", noopSmall)
	if rep.small, err = noopMeasure(ctx, cfg.bin, smallDir, noopSmall); err != nil {
		return rep, err
	}
	if err := noopHubStart(ctx, cfg.bin, smallURL, smallHub, smallDir, filepath.Join(dir, "noop", "hub-copy"), &rep.small); err != nil {
		return rep, err
	}
	fmt.Fprintf(os.Stderr, "no-op commands: a node of %d entities…\n", cfg.entities)
	if rep.large, err = noopMeasure(ctx, cfg.bin, largeDir, cfg.entities); err != nil {
		return rep, err
	}
	if err := noopHubStart(ctx, cfg.bin, largeURL, largeHub, largeDir, filepath.Join(dir, "hub-copy"), &rep.large); err != nil {
		return rep, err
	}
	return rep, nil
}

// noopSmallNode starts a hub in dir, has a node import noopSmall synthetic
// resources and push them, and a second node pull them. It returns the
// second node's data directory, the hub's URL and a function that stops it.
func noopSmallNode(ctx context.Context, cfg benchConfig, dir string) (string, string, func(), error) {
	addr, err := freeAddr()
	if err != nil {
		return "", "", nil, err
	}
	hubURL := "http://" + addr
	hubDir := filepath.Join(dir, "hub")
	hub := exec.Command(cfg.bin, "hub", "serve", "--data", hubDir, "--listen", addr, "--log-level", "warn")
	hub.Stderr = os.Stderr
	if err := hub.Start(); err != nil {
		return "", "", nil, fmt.Errorf("start hub: %w", err)
	}
	stop := func() { hub.Process.Signal(syscall.SIGTERM); hub.Wait() }
	fail := func(err error) (string, string, func(), error) { stop(); return "", "", nil, err }
	if err := waitHTTP(ctx, hubURL+"/healthz"); err != nil {
		return fail(err)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	for _, d := range sampledata.Synthetic("na", noopSmall, 2026) {
		if err := enc.Encode(d); err != nil {
			return fail(err)
		}
	}
	file := filepath.Join(dir, "import.ndjson")
	if err := os.WriteFile(file, buf.Bytes(), 0o600); err != nil {
		return fail(err)
	}
	for _, id := range []string{"na", "nb"} {
		token, err := cli(cfg.bin, "hub", "register-node", id, "--name", "Benchmark "+id, "--data", hubDir)
		if err != nil {
			return fail(err)
		}
		if _, err := cli(cfg.bin, "node", "init", "--data", filepath.Join(dir, id), "--hub", hubURL, "--token", token); err != nil {
			return fail(err)
		}
	}
	steps := [][]string{
		{"node", "import", file, "--data", filepath.Join(dir, "na"), "--log-level", "warn"},
		{"node", "sync", "--data", filepath.Join(dir, "na"), "--log-level", "warn"},
		{"node", "sync", "--data", filepath.Join(dir, "nb"), "--log-level", "warn"},
	}
	for _, args := range steps {
		if _, err := cli(cfg.bin, args...); err != nil {
			return fail(err)
		}
	}
	return filepath.Join(dir, "nb"), hubURL, stop, nil
}

// noopMeasure runs the no-op commands on the node in dir, which holds
// entities entities and has nothing to push or pull.
func noopMeasure(ctx context.Context, bin, dir string, entities int) (noopCosts, error) {
	c := noopCosts{entities: entities}
	// A first sync leaves nothing for the measured ones to do (attachments
	// noted, the hub's clock measured).
	if _, err := cli(bin, "node", "sync", "--data", dir, "--log-level", "warn"); err != nil {
		return c, err
	}
	var err error
	if c.syncPages, c.syncWall, err = noopCommand(ctx, bin, "node", "sync", "--data", dir, "--log-level", "warn"); err != nil {
		return c, err
	}
	if c.statusPages, c.statusWall, err = noopCommand(ctx, bin, "node", "status", "--data", dir, "--log-level", "warn"); err != nil {
		return c, err
	}
	if c.servePages, c.settledAfter, err = noopServe(ctx, bin, dir); err != nil {
		return c, err
	}
	return c, nil
}

// noopCommand runs bin with args noopRuns times, counting the pages read,
// and returns the median pages and wall time.
func noopCommand(ctx context.Context, bin string, args ...string) (int64, time.Duration, error) {
	var pages []int64
	var walls []time.Duration
	for range noopRuns {
		cmd := exec.CommandContext(ctx, bin, args...)
		cmd.Env = append(os.Environ(), sqlitedb.PageReadsEnv+"=1")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		t0 := time.Now()
		if err := cmd.Run(); err != nil {
			return 0, 0, fmt.Errorf("bikfed %s: %v: %s", strings.Join(args, " "), err, stderr.String())
		}
		walls = append(walls, time.Since(t0))
		p, err := pagesReported(stderr.Bytes())
		if err != nil {
			return 0, 0, fmt.Errorf("bikfed %s: %w", strings.Join(args, " "), err)
		}
		pages = append(pages, p)
	}
	slices.Sort(pages)
	slices.Sort(walls)
	return pages[len(pages)/2], walls[len(walls)/2], nil
}

// noopServe starts `bikfed node serve` on dir, lets it do its start-up work
// (publication, a probe of the hub, a push round, a long-poll) until it has
// read nothing more for a second, stops it and returns the pages it read and
// how long it ran. The fewest pages of noopRuns starts is reported:
// goroutines starting together read the same pages on different
// connections, each with a cache of its own, or not, as they happen to meet.
func noopServe(ctx context.Context, bin, dir string) (int64, time.Duration, error) {
	best, ran := int64(-1), time.Duration(0)
	addrFile := filepath.Join(dir, "node.addr")
	for range noopRuns {
		addr, err := freeAddr()
		if err != nil {
			return 0, 0, err
		}
		cmd := exec.CommandContext(ctx, bin, "node", "serve", "--data", dir, "--listen", addr, "--log-level", "warn")
		cmd.Env = append(os.Environ(), sqlitedb.PageReadsEnv+"=1")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		t0 := time.Now()
		if err := cmd.Start(); err != nil {
			return 0, 0, err
		}
		for {
			if _, err := os.Stat(addrFile); err == nil || !errors.Is(err, fs.ErrNotExist) || time.Since(t0) > 30*time.Second {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		// The start-up work runs in the background once the admin API
		// answers; the process's read calls show when it is over.
		for last := int64(-1); ; {
			time.Sleep(time.Second)
			now := readCalls(cmd.Process.Pid)
			if now == last || time.Since(t0) > time.Minute {
				break
			}
			last = now
		}
		took := time.Since(t0)
		cmd.Process.Signal(syscall.SIGTERM)
		if err := cmd.Wait(); err != nil {
			return 0, 0, fmt.Errorf("bikfed node serve: %v: %s", err, stderr.String())
		}
		p, err := pagesReported(stderr.Bytes())
		if err != nil {
			return 0, 0, fmt.Errorf("bikfed node serve: %w", err)
		}
		if best < 0 || p < best {
			best, ran = p, took
		}
	}
	return best, ran, nil
}

// noopHubStart starts a hub on a copy of the running hub at hubURL, in
// hubDir (its databases taken with sqlitedb.Snapshot, its keys copied),
// until it has settled, stops it, and notes in c the pages each database
// read. The copy is taken once the portal has indexed everything the node
// in nodeDir pulled, so the start has nothing to catch up with.
func noopHubStart(ctx context.Context, bin, hubURL, hubDir, nodeDir, copyDir string, c *noopCosts) error {
	if err := waitPortalIndexed(ctx, bin, hubURL, nodeDir); err != nil {
		return err
	}
	if err := os.MkdirAll(copyDir, 0o700); err != nil {
		return err
	}
	for _, name := range []string{"hub.db", "portal.db"} {
		if err := sqlitedb.Snapshot(ctx, filepath.Join(hubDir, name), filepath.Join(copyDir, name)); err != nil {
			return err
		}
	}
	for _, name := range []string{"hub.key", "console.key", "admin.token"} {
		b, err := os.ReadFile(filepath.Join(hubDir, name))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(copyDir, name), b, 0o600); err != nil {
			return err
		}
	}
	addr, err := freeAddr()
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, bin, "hub", "serve", "--data", copyDir, "--listen", addr, "--log-level", "warn")
	cmd.Env = append(os.Environ(), sqlitedb.PageReadsEnv+"=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		return err
	}
	if err := waitHTTP(ctx, "http://"+addr+"/healthz"); err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		return err
	}
	for last := int64(-1); ; {
		time.Sleep(time.Second)
		now := readCalls(cmd.Process.Pid)
		if now == last || time.Since(t0) > time.Minute {
			break
		}
		last = now
	}
	c.hubSettled = time.Since(t0)
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		return fmt.Errorf("bikfed hub serve: %v: %s", err, stderr.String())
	}
	sc := bufio.NewScanner(bytes.NewReader(stderr.Bytes()))
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "sqlite pages read: ")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) < 2 {
			continue
		}
		n, _ := strconv.ParseInt(f[0], 10, 64)
		switch filepath.Base(f[1]) {
		case "hub.db":
			c.hubPages = n
		case "portal.db":
			c.portalPages = n
		}
	}
	return nil
}

// waitPortalIndexed waits until the portal at hubURL has indexed up to the
// hub's head as the node in nodeDir last saw it.
func waitPortalIndexed(ctx context.Context, bin, hubURL, nodeDir string) error {
	out, err := cli(bin, "node", "status", "--json", "--data", nodeDir)
	if err != nil {
		return err
	}
	var st struct {
		HubSeq int64 `json:"hub_seq"`
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		return fmt.Errorf("node status: %w", err)
	}
	deadline := time.Now().Add(15 * time.Minute)
	for {
		var page struct {
			IndexedSeq int64 `json:"indexed_seq"`
		}
		resp, err := http.Get(hubURL + "/api/v1/resources?per_page=1")
		if err == nil {
			err = json.NewDecoder(resp.Body).Decode(&page)
			resp.Body.Close()
		}
		if err == nil && page.IndexedSeq >= st.HubSeq {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the portal at %s indexed %d of %d in 15 minutes (%v)", hubURL, page.IndexedSeq, st.HubSeq, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

// readCalls is the number of read system calls process pid has made.
func readCalls(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/io", pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "syscr: "); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			return n
		}
	}
	return 0
}

// pagesReported adds up the pages bikfed reports reading (PageReadsEnv) from
// its databases.
func pagesReported(stderr []byte) (int64, error) {
	var total int64
	found := false
	sc := bufio.NewScanner(bytes.NewReader(stderr))
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "sqlite pages read: ")
		if !ok {
			continue
		}
		n, err := strconv.ParseInt(strings.Fields(rest)[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("pages read: %w", err)
		}
		total, found = total+n, true
	}
	if !found {
		return 0, errors.New("no pages read reported")
	}
	return total, nil
}

// independent is the target: the pages at the large aggregate at most half
// as many again as at the small one, plus a few for deeper B-trees.
func independent(small, large int64) bool { return large <= small*3/2+10 }

func (r noopReport) markdown() string {
	var b strings.Builder
	s, l := r.small, r.large
	fmt.Fprintf(&b, "## A node's own work does not grow with the aggregate\n\n")
	fmt.Fprintf(&b, "What a node reads from its database on its own, again and again, when nothing changed: a no-op `bikfed node sync` (push, pull, attachments, status; one-shot, the node not running), `bikfed node status`, and `bikfed node serve` from start until its start-up work is done (publication, a probe of the hub, a push round, a long-poll; stopped once it has made no read call for a second). ")
	fmt.Fprintf(&b, "Two nodes that pulled their aggregate: one of %d entities from a hub of its own, the one that pulled all %d above. And the start of each one's hub, on a copy of its databases, until it has made no read call for a second. ", s.entities, l.entities)
	fmt.Fprintf(&b, "Pages read are SQLite's page cache misses summed over every connection, printed at exit with `%s=1` (the readers then map nothing, so the count does not depend on the operating system's cache); the median of %d runs, the fewest of %d starts for `serve`, whose goroutines may or may not share pages. Wall time is process start to exit.\n\n", sqlitedb.PageReadsEnv, noopRuns, noopRuns)
	fmt.Fprintf(&b, "| command | pages at %d | pages at %d | wall at %d | wall at %d | independent of the aggregate |\n|---|---|---|---|---|---|\n", s.entities, l.entities, s.entities, l.entities)
	fmt.Fprintf(&b, "| no-op `bikfed node sync` | %d | %d | %s | %s | %s |\n", s.syncPages, l.syncPages, ms(s.syncWall), ms(l.syncWall), verdict(independent(s.syncPages, l.syncPages)))
	fmt.Fprintf(&b, "| `bikfed node status` | %d | %d | %s | %s | %s |\n", s.statusPages, l.statusPages, ms(s.statusWall), ms(l.statusWall), verdict(independent(s.statusPages, l.statusPages)))
	fmt.Fprintf(&b, "| `bikfed node serve`, start-up work | %d | %d | %.1f s | %.1f s | %s |\n", s.servePages, l.servePages, s.settledAfter.Seconds(), l.settledAfter.Seconds(), verdict(independent(s.servePages, l.servePages)))
	fmt.Fprintf(&b, "| `bikfed hub serve` on a copy of the hub, start: `hub.db` | %d | %d | %.1f s | %.1f s | %s |\n", s.hubPages, l.hubPages, s.hubSettled.Seconds(), l.hubSettled.Seconds(), verdict(independent(s.hubPages, l.hubPages)))
	fmt.Fprintf(&b, "| the same start: `portal.db`, the portal's facet engine loaded | %d | %d | | | %s |\n", s.portalPages, l.portalPages, verdict(independent(s.portalPages, l.portalPages)))
	fmt.Fprintf(&b, "| `bikfed version`, which opens nothing: the process's start alone | | | %s | | |\n\n", ms(r.versionWall))
	fmt.Fprintf(&b, "Target: the pages read at %d entities at most 1.5 times those at %d, plus 10 for deeper B-trees. Most of a one-shot command's wall time is the process's start, as `bikfed version` shows, and one round trip to the hub; on a shared machine it varies with the load more than with anything the command does. The portal (in the hub and in each mirror) keeps its facet sets in memory and loads them from every indexed resource when it starts: that load reads in proportion to the resources shown.\n\n", l.entities, s.entities)
	return b.String()
}
