package main

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bikfed/bikfed/hub/portal/portaltest"
	"github.com/bikfed/bikfed/internal/account"
	"github.com/bikfed/bikfed/internal/mailpittest"
	"github.com/bikfed/bikfed/internal/sampledata"
	"github.com/bikfed/bikfed/node"
	"github.com/bikfed/bikfed/protocol"
)

// crawlMarkers are the unique words written into each kind of community
// content. They are single words of letters and digits, so that the
// portal's search, HTML escaping and JSON encoding leave them whole.
type crawlMarkers struct {
	threadTitle, threadText, reply, blog, attachment, youthPost, youthReply,
	nationalYouth, flag, moderationReason string
	// digest is in the display name of the member who gets a digest: a
	// digest greets its reader by name, and the name stays on the
	// member's node. digestLink is the digest's unsubscribe token, which
	// exists only in the message.
	digest, digestLink string
}

func (m crawlMarkers) all() []string {
	out := []string{m.threadTitle, m.threadText, m.reply, m.blog, m.attachment, m.youthPost, m.youthReply,
		m.nationalYouth, m.flag, m.moderationReason, m.digest}
	if m.digestLink != "" {
		out = append(out, m.digestLink)
	}
	return out
}

func newMarker(t *testing.T, kind string) string {
	t.Helper()
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return "mk" + kind + hex.EncodeToString(b[:])
}

// crawlMember adds a member with one role to a node's accounts.
func crawlMember(t *testing.T, n *node.Node, email, name, role, pseudonym string) int64 {
	t.Helper()
	m, _, err := n.Accounts().Add(t.Context(), "test", account.NewMember{Email: email, Name: name, Roles: []string{role}, Pseudonym: pseudonym})
	if err != nil {
		t.Fatal(err)
	}
	return m.ID
}

// heldAndApproved holds a young person's draft and has their coordinator
// approve it, returning the entity the approval wrote.
func heldAndApproved(t *testing.T, n *node.Node, youth, coordinator int64, d node.Draft) string {
	t.Helper()
	held, err := n.Hold(t.Context(), youth, d)
	if err != nil {
		t.Fatal(err)
	}
	if held, err = n.ApproveHeld(t.Context(), held.ID, coordinator); err != nil {
		t.Fatal(err)
	}
	return held.EntityID
}

func mustCreateAs(t *testing.T, n *node.Node, member int64, d node.Draft) string {
	t.Helper()
	e, err := n.CreateAs(t.Context(), member, d)
	if err != nil {
		t.Fatalf("create %s: %v", d.Kind, err)
	}
	return e.ID
}

// TestE2E_CommunityNeverPublic writes unique markers into every kind of
// community content (a staff thread's title and text, a reply, a blog post
// and its attachment, a European youth post and reply held and approved, a
// national youth post, a flag, a moderator's reason and a member's email
// digest), lets a real hub
// and two real nodes sync it, and then crawls every public surface of the
// hub: its pages from / onwards, search, feeds, sitemaps, the JSON APIs,
// OAI-PMH with its resumption tokens, the attachment's public address and
// error pages. No marker and no community entity id may appear in any
// response, while a marker put into a public resource is found, so the
// crawl is shown to read what the public reads.
func TestE2E_CommunityNeverPublic(t *testing.T) {
	m := crawlMarkers{
		threadTitle: newMarker(t, "threadtitle"), threadText: newMarker(t, "threadtext"), reply: newMarker(t, "reply"),
		blog: newMarker(t, "blog"), attachment: newMarker(t, "attachment"), youthPost: newMarker(t, "youthpost"),
		youthReply: newMarker(t, "youthreply"), nationalYouth: newMarker(t, "nationalyouth"), flag: newMarker(t, "flag"),
		moderationReason: newMarker(t, "moderation"), digest: newMarker(t, "digest"),
	}
	public := newMarker(t, "public")

	mp := mailpittest.Start(t)
	nw := newNetwork(t)
	be := nw.addNode("be", fastSync...)
	pt := nw.addNode("pt", append(slices.Clone(fastSync), "--smtp-host", mp.SMTPHost, "--smtp-port", strconv.Itoa(mp.SMTPPort),
		"--smtp-tls", "none", "--smtp-from", "SIC Portugal <sic@pt.example>", "--digest-every", "3s", "--notify-poll", "300ms")...)
	// The network's sample content gives the portal pages, feeds and
	// records to crawl through.
	refs := map[string]string{}
	for _, n := range []*testNode{be, pt} {
		drafts, err := sampledata.Drafts(n.id)
		if err != nil {
			t.Fatal(err)
		}
		importRecords(t, n, drafts, refs)
	}
	hubDrafts, err := sampledata.Drafts(protocol.HubID)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range hubDrafts {
		mustCLI(t, d.Body, "hub", "publish", "--kind", string(d.Kind), "--visibility", string(d.Visibility), "--data", nw.hubDir)
	}

	body := func(v any) json.RawMessage { return mustJSON(t, v) }
	var community []string // every community entity's id
	var thread, youthPost, attachment string
	var blob protocol.BlobRef
	attachmentText := "Planning notes for Safer Internet Day, members only: " + m.attachment + "\n"
	withNode(t, be.dir, func(n *node.Node) {
		staff := crawlMember(t, n, "jonas@be.example", "Jonas Schmitz", node.RoleStaff, "")
		coordinator := crawlMember(t, n, "nathalie@be.example", "Nathalie Lambert", node.RoleYouthCoordinator, "")
		youth := crawlMember(t, n, "lucas@be.example", "Lucas Maes", node.RoleYouth, "be-pixelpanda")
		thread = mustCreateAs(t, n, staff, node.Draft{Kind: protocol.KindPost, Visibility: protocol.VisibilityCommunity,
			Body: body(protocol.Post{Space: "helplines", Format: "thread", Language: "en",
				Title: "Sextortion calls " + m.threadTitle, Text: "How do you open these calls? " + m.threadText})})
		file := filepath.Join(t.TempDir(), "sid-plan-"+m.attachment+".txt")
		if err := os.WriteFile(file, []byte(attachmentText), 0o600); err != nil {
			t.Fatal(err)
		}
		var err error
		if blob, err = n.AttachFile(t.Context(), file); err != nil {
			t.Fatal(err)
		}
		attachment = "/files/" + blob.SHA256 + "/" + url.PathEscape(blob.Name)
		blog := mustCreateAs(t, n, staff, node.Draft{Kind: protocol.KindPost, Visibility: protocol.VisibilityCommunity,
			Blobs: []protocol.BlobRef{blob},
			Body: body(protocol.Post{Space: protocol.SpaceBlog, Format: "blog", Language: "en", Title: "Our SID plan",
				Text: "The plan is attached: [" + blob.Name + "](" + attachment + "). " + m.blog})})
		youthPost = heldAndApproved(t, n, youth, coordinator, node.Draft{Kind: protocol.KindPost, Visibility: protocol.VisibilityYouth,
			Body: body(protocol.Post{Space: protocol.SpaceYouth, Format: "thread", Language: "en",
				Title: "Group chats", Text: "What does your panel do about group chats? " + m.youthPost})})
		community = append(community, thread, blog, youthPost)
	})
	// A pt member, named with the digest's marker, chooses the daily
	// digest of the helplines space, where be's thread arrives.
	reader := "leitora@pt.example"
	withNode(t, pt.dir, func(n *node.Node) {
		_, token, err := n.Accounts().Add(t.Context(), "test", account.NewMember{Email: reader, Name: "Leitora " + m.digest,
			Roles: []string{node.RoleStaff}})
		if err != nil {
			t.Fatal(err)
		}
		member, err := n.Accounts().Accept(t.Context(), token, testPassword, "")
		if err != nil {
			t.Fatal(err)
		}
		if err := n.SetNotifySettings(t.Context(), member, node.NotifySettings{Lang: "en",
			Modes: map[string]node.NotifyMode{"helplines": node.NotifyDigest}}); err != nil {
			t.Fatal(err)
		}
	})
	nw.startNode(be)
	nw.startNode(pt)
	digest := mp.WaitForMessage(t, reader, mailpittest.SubjectContains("digest"))
	if !strings.Contains(digest.Text, m.digest) || !strings.Contains(digest.Text, m.threadTitle) || len(digest.ListUnsubscribe.Links) != 1 {
		t.Fatalf("the digest does not greet its reader or lacks be's thread:\n%s", digest.Text)
	}
	m.digestLink = digest.ListUnsubscribe.Links[0][strings.LastIndex(digest.ListUnsubscribe.Links[0], "/")+1:]
	waitFor(t, 60*time.Second, "pt to hold be's thread and youth post", func() error {
		for _, id := range []string{thread, youthPost} {
			if _, err := runCLI(t, nil, "node", "get", id, "--data", pt.dir); err != nil {
				return err
			}
		}
		return nil
	})

	pt.proc.stop()
	var reply, flag string
	withNode(t, pt.dir, func(n *node.Node) {
		staff := crawlMember(t, n, "marta@pt.example", "Marta Costa", node.RoleStaff, "")
		coordinator := crawlMember(t, n, "rui@pt.example", "Rui Oliveira", node.RoleYouthCoordinator, "")
		youth := crawlMember(t, n, "ines@pt.example", "Inês Santos", node.RoleYouth, "pt-gaivota")
		reply = mustCreateAs(t, n, staff, node.Draft{Kind: protocol.KindComment, Visibility: protocol.VisibilityCommunity,
			Body: body(protocol.Comment{Post: thread, Language: "pt", Text: "Começamos por ouvir. " + m.reply})})
		youthReply := heldAndApproved(t, n, youth, coordinator, node.Draft{Kind: protocol.KindComment, Visibility: protocol.VisibilityYouth,
			Body: body(protocol.Comment{Post: youthPost, Language: "en", Text: "We make posters. " + m.youthReply})})
		national := heldAndApproved(t, n, youth, coordinator, node.Draft{Kind: protocol.KindPost, Visibility: protocol.VisibilityYouth,
			Body: body(protocol.Post{Space: protocol.NationalYouthSpace("pt"), Format: "thread", Language: "pt",
				Title: "Reunião do painel", Text: "Só para nós. " + m.nationalYouth})})
		flag = mustCreateAs(t, n, staff, node.Draft{Kind: protocol.KindFlag, Visibility: protocol.VisibilityCommunity,
			Body: body(protocol.Flag{Target: thread, Reason: "other", Text: "Please check this thread. " + m.flag})})
		community = append(community, reply, youthReply, national, flag)
	})
	nw.startNode(pt)
	waitFor(t, 60*time.Second, "be to hold pt's reply and flag, through the hub", func() error {
		for _, id := range []string{reply, flag} {
			if _, err := runCLI(t, nil, "node", "get", id, "--data", be.dir); err != nil {
				return err
			}
		}
		return nil
	})

	// A moderator hides pt's reply through the hub's admin API.
	req, _ := http.NewRequest("POST", nw.hubURL+"/admin/v1/entities", bytes.NewReader(mustJSON(t, map[string]any{
		"kind": protocol.KindModeration, "visibility": protocol.VisibilityCommunity,
		"body": protocol.Moderation{Target: reply, Decision: "hide", Reason: "Names a caller. " + m.moderationReason}})))
	req.Header.Set("Authorization", "Bearer "+nw.adminToken())
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var decision struct{ ID string }
	err = json.NewDecoder(resp.Body).Decode(&decision)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated || err != nil || decision.ID == "" {
		t.Fatalf("publish the moderation decision: %s, %v", resp.Status, err)
	}
	community = append(community, decision.ID)

	// Last, a public resource with its own marker: once the portal shows
	// it, it has indexed everything the hub held before it.
	publicRefs := map[string]string{}
	importRecords(t, be, []sampledata.Draft{{Ref: "crawl-public", Kind: protocol.KindResource, Visibility: protocol.VisibilityPublic,
		Body: body(protocol.Resource{Title: "Talking about group chats " + public, Description: "A guide for teachers. " + public,
			Language: "en", Languages: []string{"en"}, AgeMin: 12, AgeMax: 16, Audiences: []string{"teachers"},
			Topics: []string{"cyberbullying"}, Type: "guide"})}}, publicRefs)
	publicID := publicRefs["crawl-public"]
	waitFor(t, 90*time.Second, "the portal to index the public resource", func() error {
		st, err := nw.status()
		if err != nil {
			return err
		}
		var page struct {
			Total      int   `json:"total"`
			IndexedSeq int64 `json:"indexed_seq"`
		}
		if err := json.Unmarshal([]byte(getBody(t, nw.hubURL+"/api/v1/resources?q="+public)), &page); err != nil {
			return err
		}
		if st.PortalIndexedSeq < st.HubSeq || page.Total != 1 {
			return fmt.Errorf("indexed %d of hub_seq %d, %d resources with the public marker", st.PortalIndexedSeq, st.HubSeq, page.Total)
		}
		return nil
	})

	// The hub holds every item the crawl looks for: the markers are in its
	// files, so their absence from its public surfaces means something.
	// The national youth post is the exception: it never leaves pt, and
	// neither do the digest's reader and the message itself.
	for _, marker := range m.all() {
		inHub := len(demoFilesWith(t, nw.hubDir, marker)) > 0
		if want := marker != m.nationalYouth && marker != m.digest && marker != m.digestLink; inHub != want {
			t.Errorf("marker %s in the hub's files: %v, want %v", marker, inHub, want)
		}
	}

	forbidden := m.all()
	for _, id := range community {
		_, ulid, _ := strings.Cut(id, ":")
		forbidden = append(forbidden, ulid)
	}
	start := []string{"/", "/resources", "/resources?per_page=100", "/services", "/news", "/directory", "/help",
		"/help?country=be", "/help?country=pt", "/sid/", "/youth/", "/pocc/", "/robots.txt",
		"/feed.atom", "/feed.rss", "/feed.json", "/sid/feed.atom", "/youth/feed.rss", "/pocc/feed.json",
		"/sitemap.xml", "/api/v1/resources?per_page=100", "/api/v1/entities?limit=500", "/v1/keys",
		"/oai?verb=Identify", "/oai?verb=ListSets", "/oai?verb=ListMetadataFormats",
		"/oai?verb=ListIdentifiers&metadataPrefix=oai_dc", "/oai?verb=ListRecords&metadataPrefix=oai_dc",
		attachment, "/v1/blobs/" + blob.SHA256, "/no-such-page", "/console/"}
	for _, kind := range []protocol.Kind{protocol.KindPost, protocol.KindComment, protocol.KindFlag, protocol.KindModeration} {
		start = append(start, "/api/v1/entities?kind="+string(kind))
	}
	// Searches ask for each marker in capitals: the search folds case, and
	// a page that repeats the visitor's own words shows them as typed, so
	// only a result could bring the marker itself.
	for _, marker := range append(m.all(), public) {
		q := strings.ToUpper(marker)
		start = append(start, "/search?q="+q, "/resources?q="+q, "/api/v1/resources?q="+q,
			"/youth/resources?q="+q, "/feed.atom?q="+q, "/feed.json?q="+q)
	}
	for _, id := range community {
		e := url.PathEscape(id)
		start = append(start, "/resources/"+e, "/news/"+e, "/api/v1/resources/"+e, "/api/v1/entities/"+e,
			"/api/v1/resources/"+e+"/translations", "/youth/resources/"+e)
	}
	fetched := portaltest.Crawl(t, nw.hubURL, start, 2000, forbidden...)
	t.Logf("crawled %d URLs", len(fetched))
	if len(fetched) < 150 {
		t.Errorf("the crawl reached only %d URLs", len(fetched))
	}
	publicPage := nw.hubURL + "/resources/" + publicID
	if !slices.Contains(fetched, publicPage) {
		t.Errorf("the crawl never reached the public resource %s from the portal's links", publicPage)
	}
	if b := getBody(t, publicPage); !strings.Contains(b, public) {
		t.Errorf("the public resource's page does not show its marker %s: the crawl could not have seen one", public)
	}
	if b := getBody(t, nw.hubURL+"/resources?q="+strings.ToUpper(public)); !strings.Contains(b, public) {
		t.Errorf("a search for the public marker in capitals does not find it: the searches above prove nothing")
	}

	// The attachment is refused at its public address and at the nodes'
	// blob address without a node's credentials.
	for _, path := range []string{attachment, "/v1/blobs/" + blob.SHA256} {
		resp, err := http.Get(nw.hubURL + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode < 400 || bytes.Contains(b, []byte(m.attachment)) {
			t.Errorf("GET %s: %s, want a refusal without the file", path, resp.Status)
		}
	}
	checkOAIHarvest(t, nw.hubURL, forbidden)

	// OAI-PMH repeats a request's arguments in every response, the
	// identifier asked for included: what a GetRecord of a community item
	// may hold besides that echo is the error that no such record exists.
	namespace := oaiNamespace(t, nw.hubURL)
	for _, id := range community {
		for _, prefix := range []string{"oai_dc", "lom"} {
			u := nw.hubURL + "/oai?verb=GetRecord&metadataPrefix=" + prefix + "&identifier=" + url.QueryEscape("oai:"+namespace+":"+id)
			b := oaiRequestEcho.ReplaceAllString(getBody(t, u), "")
			if !strings.Contains(b, `code="idDoesNotExist"`) {
				t.Errorf("%s: not idDoesNotExist:\n%s", u, b)
			}
			for _, f := range forbidden {
				if strings.Contains(b, f) {
					t.Errorf("%s contains %q outside the echo of the request", u, f)
				}
			}
		}
	}
}

// oaiRequestEcho is the <request> element of an OAI-PMH response.
var oaiRequestEcho = regexp.MustCompile(`<request[^>]*>[^<]*</request>`)

var oaiIdentifierPattern = regexp.MustCompile(`<identifier>oai:([^:<]+):`)

// oaiNamespace is the namespace of the hub's OAI-PMH identifiers, read
// from a public record.
func oaiNamespace(t *testing.T, base string) string {
	t.Helper()
	m := oaiIdentifierPattern.FindStringSubmatch(getBody(t, base+"/oai?verb=ListIdentifiers&metadataPrefix=oai_dc"))
	if m == nil {
		t.Fatal("the hub's OAI-PMH endpoint lists no identifier")
	}
	return m[1]
}

var resumptionTokenPattern = regexp.MustCompile(`<resumptionToken[^>]*>([^<]+)</resumptionToken>`)

// checkOAIHarvest runs full ListRecords and ListIdentifiers harvests in
// every metadata format, following every resumption token, and fails on any
// forbidden string.
func checkOAIHarvest(t *testing.T, base string, forbidden []string) {
	t.Helper()
	for _, vp := range [][2]string{{"ListRecords", "oai_dc"}, {"ListIdentifiers", "oai_dc"}, {"ListRecords", "lom"}, {"ListIdentifiers", "lom"}} {
		verb := vp[0]
		pages := 0
		u := base + "/oai?verb=" + verb + "&metadataPrefix=" + vp[1]
		for u != "" && pages < 200 {
			b := getBody(t, u)
			pages++
			for _, f := range forbidden {
				if strings.Contains(b, f) {
					t.Errorf("%s contains %q", u, f)
				}
			}
			u = ""
			if tok := resumptionTokenPattern.FindStringSubmatch(b); tok != nil {
				u = base + "/oai?verb=" + verb + "&resumptionToken=" + url.QueryEscape(tok[1])
			}
		}
		t.Logf("%s %s: %d pages", verb, vp[1], pages)
	}
}
