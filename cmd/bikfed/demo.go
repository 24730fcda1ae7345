package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/bikfed/bikfed/hub"
	"github.com/bikfed/bikfed/hub/console"
	"github.com/bikfed/bikfed/internal/sampledata"
	"github.com/bikfed/bikfed/node"
	"github.com/bikfed/bikfed/protocol"
)

// demoNames are the display names the demo registers its nodes under.
var demoNames = map[string]string{
	"be": "Safer Internet Centre Belgium",
	"fi": "Finnish Safer Internet Centre",
	"pt": "Centro Internet Segura (Portugal)",
}

func (e *cmdEnv) demo(ctx context.Context, args []string) error {
	var dir, hubListen string
	var keep, once bool
	s := newSettings("bikfed demo", e.stderr)
	s.fs.StringVar(&dir, "dir", "", "directory for the demo's data (default: a new temporary directory)")
	s.fs.StringVar(&hubListen, "hub-listen", "127.0.0.1:8080", "the hub's address (a free port is used if this one is taken)")
	s.fs.BoolVar(&keep, "keep", false, "keep the data directory when the demo stops")
	s.fs.BoolVar(&once, "once", false, "stop after the first sync instead of running until interrupted")
	if err := s.parse(args); err != nil {
		return err
	}
	log, err := s.logger(e.stderr)
	if err != nil {
		return err
	}
	if dir == "" {
		if dir, err = os.MkdirTemp("", "bikfed-demo-"); err != nil {
			return fmt.Errorf("demo: %w", err)
		}
		if !keep {
			defer os.RemoveAll(dir)
		}
	}
	// The nodes stop before the hub, so that their last requests and their
	// gossip leave reach a hub that is still there.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	hubCtx, hubCancel := context.WithCancel(context.WithoutCancel(ctx))
	defer hubCancel()
	var nodesWG, hubWG sync.WaitGroup
	var runErr error
	var mu sync.Mutex
	serve := func(name string, wg *sync.WaitGroup, run func() error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := run(); err != nil && !errors.Is(err, context.Canceled) {
				mu.Lock()
				runErr = errors.Join(runErr, fmt.Errorf("%s: %w", name, err))
				mu.Unlock()
				cancel()
				hubCancel()
			}
		}()
	}
	stop := func() {
		cancel()
		nodesWG.Wait()
		hubCancel()
		hubWG.Wait()
	}
	// Whatever happens below, every server stops before the hub and the
	// nodes close: one closed under its running Run would wait on it forever.
	var closers []func() error
	defer func() {
		stop()
		for _, c := range slices.Backward(closers) {
			c()
		}
	}()

	hcfg := hub.DefaultConfig()
	hcfg.DataDir = filepath.Join(dir, "hub")
	cluster, err := newDemoCluster(log) // gossip: liveness and sync hints (gossipcmd.go)
	if err != nil {
		return err
	}
	cluster.hub(&hcfg)
	// Listening first gives the public URL its port: the links people are
	// sent name localhost. The nodes reach the hub at the address itself.
	hln, err := listenOrAny(hubListen)
	if err != nil {
		return err
	}
	hcfg.PublicURL = localURL(hln.Addr())
	h, err := hub.Open(ctx, hcfg, log)
	if err != nil {
		hln.Close()
		return err
	}
	closers = append(closers, h.Close)
	ccfg := console.DefaultConfig()
	ccfg.Log = log
	con, err := console.New(h, ccfg)
	if err != nil {
		hln.Close()
		return err
	}
	h.SetConsole(con)
	hubURL := "http://" + hln.Addr().String()
	serve("hub", &hubWG, func() error { return h.Run(hubCtx, hln) })
	team, err := inviteDemoPeople(ctx, h.Accounts(), "", demoTeam, h.InviteURL)
	if err != nil {
		return err
	}

	hubDrafts, err := sampledata.Drafts("hub")
	if err != nil {
		return err
	}
	// sampleIDs are every sample entity's id by its ref, for the bulletin's
	// items, which point at any node's content.
	sampleIDs := map[string]string{}
	if err := publishHubDrafts(ctx, h, hubDrafts, sampleIDs); err != nil {
		return err
	}

	type demoNode struct {
		id     string
		n      *node.Node
		admin  string
		token  string
		people []demoInvitation
	}
	var nodes []demoNode
	for _, id := range sampledata.Nodes() {
		token, err := h.RegisterNode(ctx, id, demoNames[id])
		if err != nil {
			return err
		}
		ncfg := node.DefaultConfig()
		ncfg.DataDir = filepath.Join(dir, id)
		cluster.node(&ncfg, id)
		nlog := log.With("node", id)
		if _, err := node.Init(ctx, ncfg.DataDir, hubURL, token, nlog); err != nil {
			return err
		}
		drafts, err := sampledata.Drafts(id)
		if err != nil {
			return err
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return fmt.Errorf("listen: %w", err)
		}
		ncfg.PublicURL = localURL(ln.Addr())
		ncfg.Notify.TimeZone = demoZones[id]
		ncfg.MapDatabase = true
		n, err := node.Open(ctx, ncfg, log)
		if err != nil {
			ln.Close()
			return err
		}
		closers = append(closers, n.Close)
		people, err := inviteDemoPeople(ctx, n.Accounts(), id, demoPeople[id], n.InviteURL)
		if err != nil {
			ln.Close()
			return err
		}
		if err := createDrafts(ctx, n, drafts, sampleIDs); err != nil {
			ln.Close()
			return fmt.Errorf("demo content for %s: %w", id, err)
		}
		if err := attachWorkspace(n, ncfg.DataDir, nil, workspaceSettings{timeZone: demoZones[id]}, nlog); err != nil {
			ln.Close()
			return fmt.Errorf("workspace of %s: %w", id, err)
		}
		serve(id, &nodesWG, func() error { return n.Run(ctx, ln) })
		nodes = append(nodes, demoNode{id: id, n: n, admin: n.PublicURL(), token: n.AdminToken(), people: people})
	}
	bulletins, err := sampledata.Bulletins()
	if err != nil {
		return err
	}
	if err := publishHubDrafts(ctx, h, bulletins, sampleIDs); err != nil {
		return fmt.Errorf("demo bulletins: %w", err)
	}
	// Two rounds: the first pushes every node's content, the second brings
	// everyone's content to everyone.
	syncAll := func() error {
		for round := 0; round < 2; round++ {
			for _, dn := range nodes {
				if err := dn.n.SyncOnce(ctx, nil); err != nil {
					return fmt.Errorf("sync %s: %w", dn.id, err)
				}
			}
		}
		return nil
	}
	byID, peopleOf := map[string]*node.Node{}, map[string][]demoInvitation{}
	for _, dn := range nodes {
		byID[dn.id], peopleOf[dn.id] = dn.n, dn.people
	}
	community, err := writeCommunity(ctx, byID, peopleOf, syncAll)
	if err != nil {
		return err
	}
	if err := syncAll(); err != nil {
		return err
	}
	st, err := h.NetworkStatus(ctx)
	if err != nil {
		return err
	}
	hubURL = h.BaseURL() // from here on, what people open
	fmt.Fprintf(e.stdout, "\nbikfed demo: a hub and %d nodes, synced (%d entities in the aggregate)\n\n", len(nodes), st.Entities)
	fmt.Fprintf(e.stdout, "  portal              %s/\n", hubURL)
	fmt.Fprintf(e.stdout, "  hub                 %s\n", hubURL)
	fmt.Fprintf(e.stdout, "  public resources    %s/api/v1/entities?kind=resource\n", hubURL)
	fmt.Fprintf(e.stdout, "  guide to services   %s/services (edited in the console, %sservices)\n", hubURL, consoleURL(hubURL))
	fmt.Fprintf(e.stdout, "  Safer Internet Day  %s/sid/ (the events by country, %s/sid/events.ics for a calendar; each SIC adds its own at its workspace's /events/)\n", hubURL, hubURL)
	fmt.Fprintf(e.stdout, "  bulletin            %s/bulletin, 2 editions (composed and sent in the console, %sbulletin)\n", hubURL, consoleURL(hubURL))
	fmt.Fprintf(e.stdout, "  key directory       %s/v1/keys\n", hubURL)
	fmt.Fprintf(e.stdout, "  network status      curl -H 'Authorization: Bearer %s' %s/v1/status\n", h.AdminToken(), hubURL)
	fmt.Fprintf(e.stdout, "  console             %s/console/ (the team's sign-in links are below)\n", hubURL)
	fmt.Fprintf(e.stdout, "  community           %d threads, %d blog posts and %d replies between be, fi and pt staff, in each workspace's /community/\n",
		community.threads, community.blogs, community.replies)
	fmt.Fprintf(e.stdout, "  BIK Youth           %d posts and replies in the European youth space; %d waiting for %s's youth coordinator at /youth/approvals\n",
		community.youth, community.waiting, community.waitingAt)
	fmt.Fprintf(e.stdout, "  moderation          %d flag waiting in the console's moderation queue, %smoderation/\n", community.flags, consoleURL(hubURL))
	for _, dn := range nodes {
		rep, err := dn.n.Verify(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "  node %-4s admin API  curl -H 'Authorization: Bearer %s' %s/admin/v1/status   (verify: equal=%v)\n", dn.id, dn.token, dn.admin, rep.Equal)
	}
	sites := []demoSite{{id: "hub", name: "the coordination team",
		places: [][2]string{{"portal", hubURL + "/"}, {"console", consoleURL(hubURL)},
			{"moderation", consoleURL(hubURL) + "moderation/"}}, people: team}}
	for _, dn := range nodes {
		places := [][2]string{{"workspace", dn.n.PublicURL() + "/"}, {"community", dn.n.PublicURL() + "/community/"}}
		if dn.id == community.waitingAt {
			places = append(places, [2]string{"approvals", dn.n.PublicURL() + "/youth/approvals"})
		}
		sites = append(sites, demoSite{id: dn.id, name: demoNames[dn.id], places: places, people: dn.people})
	}
	printDemoPeople(e.stdout, sites, time.Now().Add(node.AccountConfig().InvitationTTL))
	fmt.Fprintf(e.stdout, "  data in %s\n", dir)
	if once {
		stop() // here, so that what the servers return while stopping is in runErr
		return runErr
	}
	fmt.Fprintln(e.stdout, "\nPress Ctrl-C to stop.")
	<-ctx.Done()
	stop()
	return runErr
}

// listenOrAny listens on addr, or on any free loopback port when addr is taken,
// so the demo starts even where 8080 is in use.
// demoZones are the demo SICs' time zones, in which their people type and
// read times.
var demoZones = map[string]string{"be": "Europe/Brussels", "fi": "Europe/Helsinki", "pt": "Europe/Lisbon"}

func listenOrAny(addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err == nil {
		return ln, nil
	}
	ln, err2 := net.Listen("tcp", "127.0.0.1:0")
	if err2 != nil {
		return nil, fmt.Errorf("listen: %w", errors.Join(err, err2))
	}
	return ln, nil
}

// publishHubDrafts publishes the hub's drafts, recording each id under its
// ref in ids.
func publishHubDrafts(ctx context.Context, h *hub.Hub, drafts []sampledata.Draft, ids map[string]string) error {
	for _, d := range drafts {
		body, err := sampledata.Resolve(d.Body, ids)
		if err != nil {
			return err
		}
		id, err := h.Publish(ctx, d.Kind, d.Visibility, body)
		if err != nil {
			return fmt.Errorf("publish %s: %w", d.Ref, err)
		}
		ids[d.Ref] = id
	}
	return nil
}

// createDrafts creates a node's drafts, recording each id under its ref in
// ids.
func createDrafts(ctx context.Context, n *node.Node, drafts []sampledata.Draft, ids map[string]string) error {
	for _, d := range drafts {
		body, err := sampledata.Resolve(d.Body, ids)
		if err != nil {
			return err
		}
		var blobs []protocol.BlobRef
		for _, name := range d.Files {
			b, mediaType, err := sampledata.File(name)
			if err != nil {
				return fmt.Errorf("%s: %w", d.Ref, err)
			}
			ref, err := n.Attach(ctx, bytes.NewReader(b), name, mediaType)
			if err != nil {
				return fmt.Errorf("%s: attach %s: %w", d.Ref, name, err)
			}
			blobs = append(blobs, ref)
		}
		ent, err := n.Create(ctx, node.Draft{Kind: d.Kind, Visibility: d.Visibility, PublishAt: d.PublishAt, Body: body, Blobs: blobs})
		if err != nil {
			return fmt.Errorf("%s: %w", d.Ref, err)
		}
		ids[d.Ref] = ent.ID
	}
	return nil
}
