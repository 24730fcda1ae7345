package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/bikfed/bikfed/hub"
	"github.com/bikfed/bikfed/hub/console"
	"github.com/bikfed/bikfed/hub/portal"
	"github.com/bikfed/bikfed/protocol"
)

func (e *cmdEnv) hub(ctx context.Context, args []string) error {
	sub := "serve"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		sub, args = args[0], args[1:]
	}
	switch sub {
	case "serve":
		return e.hubServe(ctx, args)
	case "register-node":
		return e.hubRegister(ctx, args)
	case "register-mirror":
		return e.hubRegisterMirror(ctx, args)
	case "remove-mirror":
		return e.hubRemoveMirror(ctx, args)
	case "status":
		return e.hubStatus(ctx, args)
	case "publish":
		return e.hubPublish(ctx, args)
	case "quota":
		return e.hubQuota(ctx, args)
	case "erase":
		return e.hubErase(ctx, args) // erasecmd.go
	case "node":
		return e.hubNode(ctx, args)
	case "member":
		return e.hubMember(ctx, args) // membercmd.go
	case "backup":
		return e.hubBackup(ctx, args) // backupcmd.go
	case "restore":
		return e.hubRestore(ctx, args) // backupcmd.go
	}
	return errUsage
}

// hubFlags registers the hub's settings on s, defaulting to cfg.
func hubFlags(s *settings, cfg *hub.Config) {
	s.fs.StringVar(&cfg.DataDir, "data", "bikfed-hub", "data directory: hub.db, hub.key, admin.token")
	s.fs.StringVar(&cfg.Listen, "listen", cfg.Listen, "HTTP listen address")
	s.fs.StringVar(&cfg.PublicURL, "public-url", cfg.PublicURL, "the hub's public base URL, also of invitation links (which without it use http://<listen>)")
	s.fs.StringVar(&cfg.AdminToken, "admin-token", cfg.AdminToken, "operator bearer token (default: <data>/admin.token, created if missing)")
	s.fs.DurationVar(&cfg.EnrolTokenTTL, "enrol-token-ttl", cfg.EnrolTokenTTL, "how long an enrolment token stays valid")
	s.fs.DurationVar(&cfg.LongPollMax, "long-poll-max", cfg.LongPollMax, "longest a changes request may wait")
	s.fs.Int64Var(&cfg.MaxBatchBytes, "max-batch-bytes", cfg.MaxBatchBytes, "largest decompressed push accepted")
	s.fs.IntVar(&cfg.MaxBatchChanges, "max-batch-changes", cfg.MaxBatchChanges, "most changes in one push")
	s.fs.StringVar(&cfg.OAIAdminEmail, "oai-admin-email", cfg.OAIAdminEmail, "the contact address the portal's OAI-PMH repository gives harvesters (Identify's adminEmail)")
	s.fs.StringVar(&cfg.OAIRepositoryName, "oai-repository-name", cfg.OAIRepositoryName, fmt.Sprintf("the OAI-PMH repository's name (Identify's repositoryName), at most %d characters", portal.MaxRepositoryName))
	s.fs.Var(portal.MinisiteHostsValue(&cfg.MinisiteHosts), "minisite-host", "serve a portal minisite on a host name: sid=saferinternetday.example (repeat, or separate with commas)")
	hubOpsFlags(s, cfg)  // gossip, lag sampling (gossipcmd.go)
	hubBlobFlags(s, cfg) // attachments (blobcmd.go)
	hubLimitFlags(s, &cfg.Limits)
	mailFlags(s, &cfg.Mail) // membercmd.go
	hubBackupFlags(s, cfg)  // backupcmd.go
	s.fs.IntVar(&cfg.Bulletin.BatchSize, "bulletin-batch-size", cfg.Bulletin.BatchSize, "bulletin copies sent before each pause")
	s.fs.DurationVar(&cfg.Bulletin.BatchPause, "bulletin-batch-pause", cfg.Bulletin.BatchPause, "pause between batches of bulletin copies, to stay within what the mail server accepts")
	s.fs.DurationVar(&cfg.Bulletin.ConfirmTTL, "bulletin-confirm-ttl", cfg.Bulletin.ConfirmTTL, "how long a bulletin confirmation link works; an address not confirmed by then is erased")
	s.fs.Float64Var(&cfg.Bulletin.SubscribeRate, "bulletin-subscribe-rate", cfg.Bulletin.SubscribeRate, "bulletin subscriptions one client address may ask for an hour (0: no limit)")
	s.fs.IntVar(&cfg.Bulletin.SubscribeBurst, "bulletin-subscribe-burst", cfg.Bulletin.SubscribeBurst, "bulletin subscriptions one client address may ask for at once")
}

// parseHub parses the hub settings.
func (e *cmdEnv) parseHub(name string, args []string, extra func(*settings)) (hub.Config, *slog.Logger, error) {
	cfg := hub.DefaultConfig()
	s := newSettings("bikfed hub "+name, e.stderr)
	hubFlags(s, &cfg)
	if extra != nil {
		extra(s)
	}
	if err := s.parse(args); err != nil {
		return cfg, nil, err
	}
	if err := cfg.Validate(); err != nil {
		return cfg, nil, fmt.Errorf("hub configuration: %w", err)
	}
	log, err := s.logger(e.stderr)
	if err != nil {
		return cfg, nil, err
	}
	cfg.Gossip.Logger = log
	// For tests of failure handling only; never set in production.
	cfg.TestFaultFile = os.Getenv("BIKFED_TEST_FAULT_FILE")
	return cfg, log, nil
}

// hubAdmin parses the hub settings and returns the admin API a one-shot
// command acts through: the running hub's, or, when none runs, that of the
// hub's database opened by this process (without the portal or background
// work) while it holds the data directory's lock. done closes what it opened.
func (e *cmdEnv) hubAdmin(ctx context.Context, name string, args []string, extra func(*settings)) (c *adminClient, done func(), err error) {
	cfg, log, err := e.parseHub(name, args, extra)
	if err != nil {
		return nil, nil, err
	}
	c, lock, err := remoteAdmin(cfg.DataDir, hubLockFile, hubAddrFile, cfg.AdminToken, filepath.Join(cfg.DataDir, "admin.token"))
	if err != nil {
		return nil, nil, err
	}
	if c != nil {
		log.Debug("a hub is running on the data directory: using its admin API", "component", "cli", "url", c.base)
		return c, func() {}, nil
	}
	h, err := hub.OpenForCommand(ctx, cfg, log)
	if err != nil {
		lock.Unlock()
		return nil, nil, err
	}
	return localAdmin(h.Handler(), h.AdminToken()), func() {
		if err := h.Close(); err != nil {
			log.Error("close hub", "err", err)
		}
		lock.Unlock()
	}, nil
}

// hubGCPercent is the hub's garbage collection target unless GOGC is set.
// Its live heap is small (tens of MiB) and pushes allocate fast, so the
// default of 100 collects often; 200 spends a few more MiB to give the
// cores back to verifying and applying (about 9 % more changes/s).
const hubGCPercent = 200

func (e *cmdEnv) hubServe(ctx context.Context, args []string) error {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(hubGCPercent)
	}
	cfg, log, err := e.parseHub("serve", args, nil)
	if err != nil {
		return err
	}
	lock, err := lockForServe(cfg.DataDir, hubLockFile, hubAddrFile)
	if err != nil {
		return err
	}
	defer lock.Unlock()
	h, err := hub.Open(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer h.Close()
	ccfg := console.DefaultConfig()
	ccfg.Log = log
	con, err := console.New(h, ccfg)
	if err != nil {
		return err
	}
	h.SetConsole(con)
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	if err := writeAddr(cfg.DataDir, hubAddrFile, ln.Addr()); err != nil {
		ln.Close()
		return err
	}
	return h.Run(ctx, ln)
}

func (e *cmdEnv) hubRegister(ctx context.Context, args []string) error {
	id, args := leadingArg(args)
	var name string
	var countries []string
	c, done, err := e.hubAdmin(ctx, "register-node", args, func(s *settings) {
		s.fs.StringVar(&name, "name", "", "the node's display name, e.g. \"Safer Internet Centre Belgium\"")
		s.fs.Func("country", "an ISO 3166 code the node may publish a profile for (repeat for several; default: the node id when it is one, kept when registering again)", func(v string) error {
			countries = append(countries, strings.Split(v, ",")...)
			return nil
		})
	})
	if err != nil {
		return err
	}
	defer done()
	if id == "" {
		return fmt.Errorf("register-node: give the node id, e.g. bikfed hub register-node be --name \"Safer Internet Centre Belgium\" --country be")
	}
	var res struct {
		Token string `json:"token"`
	}
	req := struct {
		ID        string   `json:"id"`
		Name      string   `json:"name"`
		Countries []string `json:"countries,omitempty"`
	}{id, name, countries}
	if err := c.doJSON(ctx, "POST", "/admin/v1/nodes", req, &res); err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, res.Token)
	return nil
}

func (e *cmdEnv) hubRegisterMirror(ctx context.Context, args []string) error {
	name, args := leadingArg(args)
	c, done, err := e.hubAdmin(ctx, "register-mirror", args, nil)
	if err != nil {
		return err
	}
	defer done()
	if name == "" {
		return fmt.Errorf("register-mirror: give the mirror's name, e.g. bikfed hub register-mirror eu1")
	}
	var res struct {
		Token string `json:"token"`
	}
	if err := c.doJSON(ctx, "POST", "/admin/v1/mirrors", struct {
		Name string `json:"name"`
	}{name}, &res); err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, res.Token)
	return nil
}

func (e *cmdEnv) hubRemoveMirror(ctx context.Context, args []string) error {
	name, args := leadingArg(args)
	c, done, err := e.hubAdmin(ctx, "remove-mirror", args, nil)
	if err != nil {
		return err
	}
	defer done()
	if name == "" {
		return fmt.Errorf("remove-mirror: give the mirror's name, e.g. bikfed hub remove-mirror eu1")
	}
	if err := c.doJSON(ctx, "DELETE", "/admin/v1/mirrors/"+url.PathEscape(name), nil, nil); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "mirror %s removed\n", name)
	return nil
}

func (e *cmdEnv) hubStatus(ctx context.Context, args []string) error {
	var asJSON bool
	c, done, err := e.hubAdmin(ctx, "status", args, func(s *settings) {
		s.fs.BoolVar(&asJSON, "json", false, "print JSON")
	})
	if err != nil {
		return err
	}
	defer done()
	var st protocol.NetworkStatus
	if err := c.doJSON(ctx, "GET", protocol.PathStatus, nil, &st); err != nil {
		return err
	}
	if asJSON {
		return writeJSON(e.stdout, st)
	}
	fmt.Fprintf(e.stdout, "hub_seq %d, %d entities\n\n", st.HubSeq, st.Entities)
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tEPOCH\tAPPLIED\tPUSH LAG\tPULL LAG\tLAST SUCCESS\tREFUSED")
	for _, n := range st.Nodes {
		pull := fmt.Sprintf("%d (%.0fs)", n.PullLag, n.PullLagSeconds)
		if n.CursorAhead > 0 {
			pull = fmt.Sprintf("cursor %d AHEAD of the hub (restored from an older copy?)", n.CursorAhead)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\t%s\t%d\n", n.Node, short(n.Epoch), n.AppliedSeq, n.PushLag, pull, ago(n.LastSuccessAt), n.RefusalCount)
	}
	tw.Flush()
	for _, n := range st.Nodes {
		switch {
		case n.Removed:
			fmt.Fprintf(e.stdout, "%s: removed\n", n.Node)
		case n.Suspended:
			fmt.Fprintf(e.stdout, "%s: suspended\n", n.Node)
		}
	}
	for _, n := range st.Nodes {
		for _, r := range n.Refusals {
			fmt.Fprintf(e.stdout, "refused from %s: %s: %s: %s\n", n.Node, r.Name(), r.Code, r.Reason)
		}
	}
	for _, er := range st.Erasures {
		fmt.Fprintln(e.stdout, erasureLine(er)) // erasecmd.go
	}
	return nil
}

func (e *cmdEnv) hubPublish(ctx context.Context, args []string) error {
	var kind, vis, file string
	c, done, err := e.hubAdmin(ctx, "publish", args, func(s *settings) {
		s.fs.StringVar(&kind, "kind", "", "service, moderation, post or bulletin")
		s.fs.StringVar(&vis, "visibility", "public", "public, community or youth")
		s.fs.StringVar(&file, "file", "-", "JSON body of the entity (- for standard input)")
	})
	if err != nil {
		return err
	}
	defer done()
	body, err := readInput(e.stdin, file)
	if err != nil {
		return err
	}
	if !json.Valid(body) {
		return protocol.Errorf(protocol.CodeMalformedJSON, "publish: the body is not JSON")
	}
	req := struct {
		Kind       protocol.Kind       `json:"kind"`
		Visibility protocol.Visibility `json:"visibility"`
		Body       json.RawMessage     `json:"body"`
	}{protocol.Kind(kind), protocol.Visibility(vis), body}
	var res struct {
		ID string `json:"id"`
	}
	if err := c.doJSON(ctx, "POST", "/admin/v1/entities", req, &res); err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, res.ID)
	return nil
}

// writeAddr records the address a server bound, so scripts and tests that asked
// for port 0 can find it.
func writeAddr(dir, name string, addr net.Addr) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("write address: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), []byte(addr.String()+"\n"), 0o600); err != nil {
		return fmt.Errorf("write address: %w", err)
	}
	return nil
}

// leadingArg splits off a positional first argument; "-" (standard input) counts as one.
func leadingArg(args []string) (string, []string) {
	if len(args) > 0 && (args[0] == "-" || !strings.HasPrefix(args[0], "-")) {
		return args[0], args[1:]
	}
	return "", args
}

func readInput(stdin interface{ Read([]byte) (int, error) }, file string) ([]byte, error) {
	if file == "-" {
		b, err := readAllLimited(stdin, 64<<20)
		if err != nil {
			return nil, fmt.Errorf("read standard input: %w", err)
		}
		return b, nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", file, err)
	}
	return b, nil
}

func writeJSON(w interface{ Write([]byte) (int, error) }, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func short(s string) string {
	if len(s) > 10 {
		return s[:10]
	}
	return s
}

func ago(t *time.Time) string {
	if t == nil || t.IsZero() {
		return "never"
	}
	return time.Since(*t).Round(time.Second).String() + " ago"
}
