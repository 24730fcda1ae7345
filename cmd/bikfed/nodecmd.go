package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/bikfed/bikfed/internal/dirlock"
	"github.com/bikfed/bikfed/node"
	"github.com/bikfed/bikfed/protocol"
)

func (e *cmdEnv) node(ctx context.Context, args []string) error {
	sub := "serve"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		sub, args = args[0], args[1:]
	}
	switch sub {
	case "init":
		return e.nodeInit(ctx, args)
	case "rekey":
		return e.nodeRekey(ctx, args)
	case "serve":
		return e.nodeServe(ctx, args)
	case "create", "update":
		return e.nodeWrite(ctx, sub, args)
	case "delete":
		return e.nodeDelete(ctx, args)
	case "get":
		return e.nodeGet(ctx, args)
	case "list":
		return e.nodeList(ctx, args)
	case "import":
		return e.nodeImport(ctx, args)
	case "sync":
		return e.nodeSync(ctx, args)
	case "status":
		return e.nodeStatus(ctx, args)
	case "attach":
		return e.nodeAttach(ctx, args)
	case "blob":
		return e.nodeBlob(ctx, args)
	case "member":
		return e.nodeMember(ctx, args) // membercmd.go
	}
	return errUsage
}

// nodeFlags registers the node's settings on s, defaulting to cfg.
func nodeFlags(s *settings, cfg *node.Config) {
	s.fs.StringVar(&cfg.DataDir, "data", "bikfed-node", "data directory: node.db, node.key, admin.token")
	s.fs.StringVar(&cfg.Listen, "listen", cfg.Listen, "admin API listen address")
	s.fs.StringVar(&cfg.AdminToken, "admin-token", cfg.AdminToken, "admin API bearer token (default: <data>/admin.token, created if missing)")
	s.fs.StringVar(&cfg.Schedules.Push, "push-schedule", cfg.Schedules.Push, "cron schedule of pushes to the hub")
	s.fs.StringVar(&cfg.Schedules.Pull, "pull-schedule", cfg.Schedules.Pull, "cron schedule of pulls from the hub (backstop to long-polling)")
	s.fs.StringVar(&cfg.Schedules.Publish, "publish-schedule", cfg.Schedules.Publish, "cron schedule that publishes entities whose publish_at has come")
	s.fs.StringVar(&cfg.Schedules.Housekeeping, "housekeeping-schedule", cfg.Schedules.Housekeeping, "cron schedule of housekeeping")
	s.fs.BoolVar(&cfg.LongPoll, "long-poll", cfg.LongPoll, "keep a long-poll open to the hub so changes arrive at once")
	s.fs.DurationVar(&cfg.LongPollWait, "long-poll-wait", cfg.LongPollWait, "how long one long-poll waits")
	s.fs.IntVar(&cfg.PushBatch, "push-batch", cfg.PushBatch, "changes per push")
	s.fs.DurationVar(&cfg.PushDebounce, "push-debounce", cfg.PushDebounce, "delay between a local change and its push")
	nodeOpsFlags(s, cfg)  // gossip, readiness (gossipcmd.go)
	nodeBlobFlags(s, cfg) // attachments (blobcmd.go)
	nodeLimitFlags(s, &cfg.Limits)
	s.fs.StringVar(&cfg.PublicURL, "public-url", cfg.PublicURL, "the node's address as its people reach it, for invitation links (default: http://<listen>)")
	mailFlags(s, &cfg.Mail)     // membercmd.go
	notifyFlags(s, &cfg.Notify) // notifycmd.go
}

// testClockOffsetEnv shifts a node's clock by a duration ("72h", "-72h"),
// for tests of a node whose clock is wrong. It is not a setting: never set
// it on a real node.
const testClockOffsetEnv = "BIKFED_TEST_CLOCK_OFFSET"

// parseNode parses the node settings.
func (e *cmdEnv) parseNode(name string, args []string, extra func(*settings)) (node.Config, *slog.Logger, error) {
	cfg := node.DefaultConfig()
	s := newSettings("bikfed node "+name, e.stderr)
	nodeFlags(s, &cfg)
	if extra != nil {
		extra(s)
	}
	if err := s.parse(args); err != nil {
		return cfg, nil, err
	}
	if err := cfg.Validate(); err != nil {
		return cfg, nil, fmt.Errorf("node configuration: %w", err)
	}
	log, err := s.logger(e.stderr)
	if err != nil {
		return cfg, nil, err
	}
	cfg.Gossip.Logger = log
	if v := os.Getenv(testClockOffsetEnv); v != "" {
		off, err := time.ParseDuration(v)
		if err != nil {
			return cfg, nil, fmt.Errorf("%s: %w", testClockOffsetEnv, err)
		}
		cfg.Clock = func() time.Time { return time.Now().Add(off) }
		log.Warn("this node's clock is shifted for a test", "env", testClockOffsetEnv, "offset", off.String())
	}
	return cfg, log, nil
}

// nodeAdmin parses the node settings and returns the admin API a one-shot
// command acts through: the running node's, or, when none runs, that of the
// node opened by this process (which does not sync) while it holds the data
// directory's lock; local is that node, nil when a server runs. done closes
// what it opened.
func (e *cmdEnv) nodeAdmin(ctx context.Context, name string, args []string, extra func(*settings)) (c *adminClient, local *node.Node, done func(), err error) {
	cfg, log, err := e.parseNode(name, args, extra)
	if err != nil {
		return nil, nil, nil, err
	}
	c, lock, err := remoteAdmin(cfg.DataDir, nodeLockFile, nodeAddrFile, cfg.AdminToken, node.AdminTokenPath(cfg.DataDir))
	if err != nil {
		return nil, nil, nil, err
	}
	if c != nil {
		log.Debug("the node is running: using its admin API", "component", "cli", "url", c.base)
		return c, nil, func() {}, nil
	}
	n, err := node.Open(ctx, cfg, log)
	if err != nil {
		lock.Unlock()
		return nil, nil, nil, err
	}
	return localAdmin(n.Handler(), n.AdminToken()), n, func() {
		if err := n.Close(); err != nil {
			log.Error("close node", "err", err)
		}
		lock.Unlock()
	}, nil
}

func (e *cmdEnv) nodeInit(ctx context.Context, args []string) error {
	var dataDir, hubURL, token string
	s := newSettings("bikfed node init", e.stderr)
	s.fs.StringVar(&dataDir, "data", "bikfed-node", "data directory")
	s.fs.StringVar(&hubURL, "hub", "", "the hub's URL")
	s.fs.StringVar(&token, "token", "", "one-time enrolment token from the coordination team")
	if err := s.parse(args); err != nil {
		return err
	}
	if hubURL == "" || token == "" {
		return fmt.Errorf("node init: --hub and --token are required")
	}
	log, err := s.logger(e.stderr)
	if err != nil {
		return err
	}
	lock, err := dirlock.TryLock(dataDir, nodeLockFile)
	if errors.Is(err, dirlock.ErrLocked) {
		return fmt.Errorf("node init: the node on %s is running; stop it first", dataDir)
	}
	if err != nil {
		return err
	}
	defer lock.Unlock()
	id, err := node.Init(ctx, dataDir, hubURL, token, log)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "enrolled %s with %s (key %s, epoch %s)\n", id.Node, hubURL, id.KeyID, id.Epoch)
	return nil
}

// nodeRekey is `bikfed node rekey --token T`: enrol a new key after the
// coordination team rotated the node's key, keeping the node's data.
func (e *cmdEnv) nodeRekey(ctx context.Context, args []string) error {
	var dataDir, hubURL, token string
	s := newSettings("bikfed node rekey", e.stderr)
	s.fs.StringVar(&dataDir, "data", "bikfed-node", "data directory")
	s.fs.StringVar(&hubURL, "hub", "", "the hub's URL (default: the one the node enrolled with)")
	s.fs.StringVar(&token, "token", "", "enrolment token from the coordination team's rotate-key")
	if err := s.parse(args); err != nil {
		return err
	}
	if token == "" {
		return fmt.Errorf("node rekey: --token is required")
	}
	log, err := s.logger(e.stderr)
	if err != nil {
		return err
	}
	lock, err := dirlock.TryLock(dataDir, nodeLockFile)
	if errors.Is(err, dirlock.ErrLocked) {
		return fmt.Errorf("node rekey: the node on %s is running; stop it first", dataDir)
	}
	if err != nil {
		return err
	}
	defer lock.Unlock()
	id, err := node.Rekey(ctx, dataDir, hubURL, token, log)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "enrolled %s with %s (new key %s, epoch %s)\n", id.Node, id.HubURL, id.KeyID, id.Epoch)
	return nil
}

func (e *cmdEnv) nodeServe(ctx context.Context, args []string) error {
	var wss workspaceSettings
	cfg, log, err := e.parseNode("serve", args, func(s *settings) { workspaceFlags(s, &wss) })
	if err != nil {
		return err
	}
	// Digests go at an hour of the zone the workspace's people think in.
	cfg.Notify.TimeZone = wss.timeZone
	lock, err := lockForServe(cfg.DataDir, nodeLockFile, nodeAddrFile)
	if err != nil {
		return err
	}
	defer lock.Unlock()
	cfg.MapDatabase = true
	n, err := node.Open(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer n.Close()
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	if err := writeAddr(cfg.DataDir, nodeAddrFile, ln.Addr()); err != nil {
		ln.Close()
		return err
	}
	n.SetListenAddr(ln.Addr().String())
	if err := attachWorkspace(n, cfg.DataDir, cfg.Clock, wss, log); err != nil {
		ln.Close()
		return fmt.Errorf("workspace: %w", err)
	}
	return n.Run(ctx, ln)
}

func (e *cmdEnv) nodeWrite(ctx context.Context, sub string, args []string) error {
	id, args := leadingArg(args)
	var kind, vis, publishAt, file string
	var attach []string
	c, _, done, err := e.nodeAdmin(ctx, sub, args, func(s *settings) {
		s.fs.Func("attach", "attach a file (repeat for several); on update, added to the attachments the entity has", func(v string) error {
			attach = append(attach, v)
			return nil
		})
		s.fs.StringVar(&kind, "kind", "", "resource, translation, post, comment or profile")
		s.fs.StringVar(&vis, "visibility", "public", "public, community or youth")
		s.fs.StringVar(&publishAt, "publish-at", "", "RFC 3339 time before which the entity stays unpublished")
		s.fs.StringVar(&file, "file", "-", "JSON body (- for standard input)")
	})
	if err != nil {
		return err
	}
	defer done()
	body, err := readInput(e.stdin, file)
	if err != nil {
		return err
	}
	d := node.Draft{Kind: protocol.Kind(kind), Visibility: protocol.Visibility(vis), Body: json.RawMessage(body)}
	if publishAt != "" {
		t, err := time.Parse(time.RFC3339, publishAt)
		if err != nil {
			return fmt.Errorf("publish-at: %w", err)
		}
		d.PublishAt = &t
	}
	if !json.Valid(body) {
		return protocol.Errorf(protocol.CodeMalformedJSON, "%s: the body is not JSON", sub)
	}
	var ent node.Entity
	if sub == "create" {
		if d.Blobs, err = attachFiles(ctx, c, nil, attach); err != nil {
			return err
		}
		err = c.doJSON(ctx, "POST", node.PathAdminEntities, d, &ent)
	} else {
		if id == "" {
			return fmt.Errorf("update: give the entity id")
		}
		var cur node.Entity
		if err := c.doJSON(ctx, "GET", entityPath(id), nil, &cur); err != nil {
			return err
		}
		if kind == "" {
			d.Kind = cur.Kind
		}
		// An edit keeps the attachments; --attach adds to them.
		if d.Blobs, err = attachFiles(ctx, c, cur.Blobs, attach); err != nil {
			return err
		}
		err = c.doJSON(ctx, "PUT", entityPath(id), d, &ent)
	}
	if err != nil {
		return err
	}
	return writeJSON(e.stdout, ent)
}

func (e *cmdEnv) nodeDelete(ctx context.Context, args []string) error {
	id, args := leadingArg(args)
	var erase bool
	c, _, done, err := e.nodeAdmin(ctx, "delete", args, func(s *settings) {
		s.fs.BoolVar(&erase, "erase", false, "GDPR erasure: purge the body and attachments everywhere")
	})
	if err != nil {
		return err
	}
	defer done()
	if id == "" {
		return fmt.Errorf("delete: give the entity id")
	}
	var ent node.Entity
	if err := c.doJSON(ctx, "DELETE", entityPath(id)+"?erase="+strconv.FormatBool(erase), nil, &ent); err != nil {
		return err
	}
	return writeJSON(e.stdout, ent)
}

func (e *cmdEnv) nodeGet(ctx context.Context, args []string) error {
	id, args := leadingArg(args)
	c, _, done, err := e.nodeAdmin(ctx, "get", args, nil)
	if err != nil {
		return err
	}
	defer done()
	if id == "" {
		return fmt.Errorf("get: give the entity id")
	}
	var ent node.Entity
	if err := c.doJSON(ctx, "GET", entityPath(id), nil, &ent); err != nil {
		return err
	}
	return writeJSON(e.stdout, ent)
}

func (e *cmdEnv) nodeList(ctx context.Context, args []string) error {
	var f node.ListFilter
	var kind string
	c, _, done, err := e.nodeAdmin(ctx, "list", args, func(s *settings) {
		s.fs.StringVar(&kind, "kind", "", "only this kind")
		s.fs.StringVar(&f.Owner, "owner", "", "only this owner")
		s.fs.IntVar(&f.Limit, "limit", 100, "at most this many")
		s.fs.StringVar(&f.After, "after", "", "page after this id")
	})
	if err != nil {
		return err
	}
	defer done()
	q := url.Values{}
	for k, v := range map[string]string{"kind": kind, "owner": f.Owner, "after": f.After} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if f.Limit > 0 {
		q.Set("limit", strconv.Itoa(f.Limit))
	}
	var list node.EntityList
	if err := c.doJSON(ctx, "GET", node.PathAdminEntities+"?"+q.Encode(), nil, &list); err != nil {
		return err
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tKIND\tVERSION\tVISIBILITY\tSTATE\tTITLE")
	for _, ent := range list.Entities {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\n", ent.ID, ent.Kind, ent.Version, ent.Visibility, ent.State, titleOf(ent.Body))
	}
	return tw.Flush()
}

// entityPath is the admin API's path of one entity.
func entityPath(id string) string { return node.PathAdminEntities + "/" + url.PathEscape(id) }

func titleOf(body json.RawMessage) string {
	var b struct{ Title, Name string }
	_ = json.Unmarshal(body, &b)
	if b.Title == "" {
		b.Title = b.Name
	}
	if len(b.Title) > 60 {
		b.Title = b.Title[:57] + "..."
	}
	return b.Title
}

func (e *cmdEnv) nodeImport(ctx context.Context, args []string) error {
	file, args := leadingArg(args)
	c, n, done, err := e.nodeAdmin(ctx, "import", args, nil)
	if err != nil {
		return err
	}
	defer done()
	if file == "" {
		file = "-"
	}
	var r io.Reader = e.stdin
	if file != "-" {
		f, err := os.Open(file)
		if err != nil {
			return fmt.Errorf("import: %w", err)
		}
		defer f.Close()
		r = f
	}
	var res node.ImportResult
	if n != nil {
		// One line per committed batch: each is durable, so after a crash
		// the last line says how far the import got.
		progress := node.WithProgress(func(p node.ImportResult) {
			fmt.Fprintf(e.stderr, "import: %d records committed (%d created, %d updated, %d unchanged, %d matched by ref, %d failed)\n",
				p.Records, p.Created, p.Updated, p.Unchanged, p.Matched, p.Failed)
		})
		res, err = n.Import(ctx, r, progress)
	} else {
		err = c.do(ctx, "POST", node.PathAdminImport, r, "application/x-ndjson", &res)
	}
	if err != nil {
		return err
	}
	if p := res.Interrupted; p != nil {
		fmt.Fprintf(e.stderr, "import: the previous import (started %s) stopped after %d records, %d of them created; records with a ref were matched, not created again\n",
			p.StartedAt.Format(time.RFC3339), p.Records, p.Created)
	}
	if res.Unkeyed > 0 {
		fmt.Fprintf(e.stderr, "import: %d records had neither an id nor a ref; running this input again would create them again\n", res.Unkeyed)
	}
	if err := writeJSON(e.stdout, res); err != nil {
		return err
	}
	if len(res.Errors) > 0 {
		return fmt.Errorf("import: %d records refused", len(res.Errors))
	}
	return nil
}

func (e *cmdEnv) nodeSync(ctx context.Context, args []string) error {
	c, n, done, err := e.nodeAdmin(ctx, "sync", args, nil)
	if err != nil {
		return err
	}
	defer done()
	var st node.Status
	if n == nil {
		// The running node syncs, and fetches attachments, itself.
		if err := c.doJSON(ctx, "POST", node.PathAdminSync, nil, &st); err != nil {
			return err
		}
	} else {
		bar := newProgressBar(e.stderr)
		err = n.SyncOnce(ctx, bar.update)
		bar.done()
		if err != nil {
			return err
		}
		// Attachments of what was pulled; those that fail are retried later.
		if _, err := n.FetchBlobs(ctx); err != nil {
			return err
		}
		if st, err = n.Status(ctx); err != nil {
			return err
		}
	}
	fmt.Fprintf(e.stdout, "synced: %d pending, pull cursor %d of %d\n", st.Pending, st.PullCursor, st.HubSeq)
	return nil
}

func (e *cmdEnv) nodeStatus(ctx context.Context, args []string) error {
	var asJSON bool
	c, _, done, err := e.nodeAdmin(ctx, "status", args, func(s *settings) {
		s.fs.BoolVar(&asJSON, "json", false, "print JSON")
	})
	if err != nil {
		return err
	}
	defer done()
	var st node.Status
	if err := c.doJSON(ctx, "GET", node.PathAdminStatus, nil, &st); err != nil {
		return err
	}
	if asJSON {
		return writeJSON(e.stdout, st)
	}
	printNodeStatus(e.stdout, st)
	return nil
}

// printNodeStatus is the editor's view: what waits to go out, when the node
// last spoke to the hub, and what the hub refused.
func printNodeStatus(w io.Writer, st node.Status) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "node\t%s %s\n", st.Node, st.Name)
	fmt.Fprintf(tw, "hub\t%s\n", st.HubURL)
	fmt.Fprintf(tw, "epoch\t%s (since %s)\n", st.Epoch, st.EpochStartedAt.Format(time.RFC3339))
	fmt.Fprintf(tw, "pending\t%d changes to push (outbox head %d, hub has up to %d)\n", st.Pending, st.HeadSeq, st.PushCheckpoint)
	fmt.Fprintf(tw, "scheduled\t%d waiting for their publication time\n", st.Scheduled)
	fmt.Fprintf(tw, "last push\t%s%s\n", ago(st.LastPushAt), errSuffix(st.LastPushError))
	behind := fmt.Sprintf("%d behind", st.PullLag)
	if st.Reconciling {
		// Neither count is the truth yet: the node has still to compare its
		// content with the hub's.
		behind = "reconciling with the hub"
		if st.HubRewoundAt != nil {
			behind += fmt.Sprintf(", which went back in time %s (restored from an older copy?)", ago(st.HubRewoundAt))
		}
	}
	fmt.Fprintf(tw, "last pull\t%s, cursor %d of %d (%s)%s\n", ago(st.LastPullAt), st.PullCursor, st.HubSeq, behind, errSuffix(st.LastPullError))
	if st.ClockSkewed {
		off, way := time.Duration(st.ClockOffsetSeconds*float64(time.Second)).Round(time.Second), "ahead of"
		if off < 0 {
			off, way = -off, "behind"
		}
		fmt.Fprintf(tw, "clock\tthe hub's clock is %s %s this machine's; publication follows the hub's\n", off, way)
	}
	fmt.Fprintf(tw, "entities\t%d\n", st.Entities)
	tw.Flush()
	if st.RefusalCount > 0 {
		fmt.Fprintf(w, "\n%d refused records (newest first):\n", st.RefusalCount)
		for _, r := range st.Refusals {
			fmt.Fprintf(w, "  %s  %s: %s: %s\n", r.At.Format(time.RFC3339), r.Name(), r.Code, r.Reason)
		}
	}
}

func errSuffix(s string) string {
	if s == "" {
		return ""
	}
	return " — last error: " + s
}

func (e *cmdEnv) verify(ctx context.Context, args []string) error {
	var asJSON bool
	c, _, done, err := e.nodeAdmin(ctx, "verify", args, func(s *settings) {
		s.fs.BoolVar(&asJSON, "json", false, "print JSON")
	})
	if err != nil {
		return err
	}
	defer done()
	var rep node.VerifyReport
	if err := c.doJSON(ctx, "GET", node.PathAdminVerify, nil, &rep); err != nil {
		return err
	}
	if asJSON {
		if err := writeJSON(e.stdout, rep); err != nil {
			return err
		}
	} else {
		printVerify(e.stdout, rep)
	}
	if !rep.Equal {
		return errDifferences
	}
	return nil
}

func printVerify(w io.Writer, rep node.VerifyReport) {
	var b bytes.Buffer
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "OWNER\tNODE\tHUB\tMATCH")
	for _, o := range rep.Owners {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%v\n", o.Owner, o.NodeCount, o.HubCount, o.Equal)
	}
	tw.Flush()
	w.Write(b.Bytes())
	for _, d := range rep.Differences {
		fmt.Fprintf(w, "difference: %s: %s\n", d.ID, d.Reason)
	}
	if rep.Equal {
		fmt.Fprintln(w, "node and hub hold the same content")
	} else {
		fmt.Fprintf(w, "%d differences\n", len(rep.Differences))
	}
}

func readAllLimited(r interface{ Read([]byte) (int, error) }, limit int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, errors.New("input larger than the limit")
	}
	return b, nil
}
