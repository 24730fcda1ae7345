package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdpnetwork "github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// resFile is a file chosen in a form.
type resFile struct {
	name string
	body []byte
}

// resMultipart sends a multipart form as a browser does, its token in the
// action's query when the page at from has one.
func resMultipart(p *person, from, action string, form url.Values, files []resFile, header ...string) page {
	p.t.Helper()
	if from != "" {
		if tok := formToken(p.get(from).body); tok != "" && !strings.Contains(action, "form_token=") {
			sep := "?"
			if strings.Contains(action, "?") {
				sep = "&"
			}
			action += sep + "form_token=" + tok
		}
	}
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for k, vs := range form {
		for _, v := range vs {
			mw.WriteField(k, v)
		}
	}
	if files == nil {
		// A file input with nothing chosen still sends an empty part.
		w, _ := mw.CreateFormFile("files", "")
		w.Write(nil)
	}
	for _, f := range files {
		w, _ := mw.CreateFormFile("files", f.name)
		w.Write(f.body)
	}
	mw.Close()
	req, err := http.NewRequest("POST", p.base+action, &buf)
	if err != nil {
		p.t.Fatal(err)
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := p.c.Do(req)
	if err != nil {
		p.t.Fatalf("POST %s: %v", action, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return page{status: resp.StatusCode, location: resp.Header.Get("Location"), body: string(b)}
}

// resForm is a valid resource form.
func resForm(title string) url.Values {
	return url.Values{
		"action": {"save"}, "title": {title}, "description": {"A kit for schools.\nWith posters."},
		"language": {"en"}, "languages": {"en", "nl"}, "age_min": {"9"}, "age_max": {"14"},
		"audiences": {"teachers", "children"}, "topics": {"cyberbullying"}, "type": {"guide"},
		"licence": {"CC BY 4.0"}, "url": {"https://example.be/kit"}, "minisites": {"sid"},
		"visibility": {"public"}, "publish_at": {""},
	}
}

// resNode is a hub and a running node "be" whose workspace takes files of
// at most 1 MiB and thinks in Brussels time, with its workspace address.
func resNode(t *testing.T) (*network, *testNode, string) {
	nw := newNetwork(t)
	n := nw.addNode("be", "--max-upload", "1MiB", "--time-zone", "Europe/Brussels")
	nw.startNode(n)
	return nw, n, "http://" + waitServing(t, n.dir, nodeAddrFile)
}

var resSavedID = regexp.MustCompile(`^/resources/(be:[0-9A-Z]+)\?saved=1$`)

// resCount is how many resources the list says the centre has.
func resCount(p *person, query string) int {
	p.t.Helper()
	got := p.get("/resources/" + query)
	if got.status != http.StatusOK {
		p.t.Fatalf("list: %d\n%s", got.status, got.body)
	}
	m := regexp.MustCompile(`<h2 id="found">(\d+) resources?</h2>`).FindStringSubmatch(got.body)
	if m == nil {
		return 0
	}
	var n int
	fmt.Sscan(m[1], &n)
	return n
}

func TestE2E_Resources(t *testing.T) {
	_, n, base := resNode(t)
	eva := newPerson(t, base)
	eva.acceptInvitation(addMember(t, n, "eva@sic.example.be", "Eva Peeters", "editor"), testPassword)
	eva.signIn("eva@sic.example.be", testPassword)

	if got := eva.get("/resources/"); got.status != 200 || !strings.Contains(got.body, "no resources yet") {
		t.Fatalf("empty list: %d\n%s", got.status, got.body)
	}

	t.Run("every word in every language", func(t *testing.T) {
		for _, lang := range []string{"nl", "fr", "de", "fi", "pt", "en"} {
			for _, path := range []string{"/resources/?lang=" + lang, "/resources/new?lang=" + lang} {
				got := eva.get(path)
				if m := regexp.MustCompile(`resources\.[a-z_]+\.[a-z_.-]+`).FindString(got.body); got.status != 200 || m != "" {
					t.Errorf("%s: %d, shows the message id %q", path, got.status, m)
				}
			}
		}
		if got := eva.get("/resources/new"); !strings.Contains(got.body, "Language of the title and description") {
			t.Error("the language chosen last is not English again")
		}
	})

	t.Run("invalid form comes back with the input, the messages and the file", func(t *testing.T) {
		f := resForm("")
		f.Set("description", "Typed with care.")
		f.Set("age_min", "nine")
		f.Del("topics")
		got := resMultipart(eva, "/resources/new", "/resources/new", f, []resFile{{"kit.pdf", []byte("%PDF-1.4 small")}})
		if got.status != http.StatusUnprocessableEntity {
			t.Fatalf("status %d, want 422\n%s", got.status, got.body)
		}
		for _, want := range []string{
			`<h2 id="errors-h">There is a problem</h2>`,
			`<a href="#f-title">Give the resource a title`,
			`<a href="#f-age-min">Give the youngest age`,
			`<a href="#f-topics-cyberbullying">Choose at least one topic.`,
			`>Typed with care.</textarea>`, `name="age_min" min="0" max="99" inputmode="numeric" value="nine" aria-invalid="true"`,
			`value="teachers" checked`, `Remove kit.pdf (14 B)`, `name="attachment" value="{&#34;sha256&#34;`,
		} {
			if !strings.Contains(got.body, want) {
				t.Errorf("the form lacks %q", want)
			}
		}
		if c := resCount(eva, ""); c != 0 {
			t.Errorf("an invalid form created %d resources", c)
		}
	})

	t.Run("a file over the limit is refused with a clear message", func(t *testing.T) {
		big := bytes.Repeat([]byte("x"), 1<<20+1)
		got := resMultipart(eva, "/resources/new", "/resources/new", resForm("Too big"), []resFile{{"video.mp4", big}})
		if got.status != http.StatusUnprocessableEntity || !strings.Contains(got.body, "video.mp4 is larger than 1 MB, the largest file this workspace takes.") {
			t.Fatalf("status %d\n%s", got.status, got.body)
		}
		if !strings.Contains(got.body, `value="Too big"`) {
			t.Error("the title typed was lost")
		}
		if c := resCount(eva, ""); c != 0 {
			t.Errorf("created %d resources", c)
		}
		tok := formToken(eva.get("/resources/new").body)
		ans := resMultipart(eva, "", "/resources/upload?form_token="+tok, nil, []resFile{{"video.mp4", big}})
		if ans.status != http.StatusUnprocessableEntity || !strings.Contains(ans.body, "larger than 1 MB") {
			t.Errorf("the script's upload of a file over the limit: %d %s", ans.status, ans.body)
		}
	})

	t.Run("a large file goes in pieces and resumes after a dropped connection", func(t *testing.T) {
		tok := formToken(eva.get("/resources/new").body)
		file := make([]byte, 900_000)
		rand.Read(file)
		up := "/resources/upload?form_token=" + tok
		call := func(query string) (int, map[string]any) {
			t.Helper()
			got := resMultipart(eva, "", up+query, url.Values{}, []resFile{})
			var ans map[string]any
			json.Unmarshal([]byte(got.body), &ans)
			return got.status, ans
		}
		if st, ans := call("&start=1&name=huge.bin&size=2000000"); st != http.StatusUnprocessableEntity || !strings.Contains(fmt.Sprint(ans["error"]), "larger than 1 MB") {
			t.Errorf("starting an upload over the limit: %d %v", st, ans)
		}
		st, ans := call("&start=1&name=dump.bin&type=application%2Foctet-stream&size=900000")
		id, _ := ans["upload"].(string)
		if st != http.StatusOK || id == "" {
			t.Fatalf("start: %d %v", st, ans)
		}
		chunkReq := func(offset int, body []byte) (int, map[string]any) {
			t.Helper()
			var buf bytes.Buffer
			mw := multipart.NewWriter(&buf)
			w, _ := mw.CreateFormFile("chunk", "dump.bin")
			w.Write(body)
			mw.Close()
			req, _ := http.NewRequest("POST", eva.base+up+fmt.Sprintf("&upload=%s&offset=%d", id, offset), &buf)
			req.Header.Set("Content-Type", mw.FormDataContentType())
			resp, err := eva.c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var ans map[string]any
			json.NewDecoder(resp.Body).Decode(&ans)
			return resp.StatusCode, ans
		}
		if st, ans := chunkReq(0, file[:300_000]); st != http.StatusOK || ans["offset"] != 300_000.0 {
			t.Fatalf("first piece: %d %v", st, ans)
		}
		if st, ans := chunkReq(0, file[:300_000]); st != http.StatusConflict || ans["offset"] != 300_000.0 {
			t.Fatalf("a piece sent again: %d %v, want 409 and where the file stands", st, ans)
		}
		// The second piece is cut off half-way by a dropped connection.
		var body bytes.Buffer
		mw := multipart.NewWriter(&body)
		w, _ := mw.CreateFormFile("chunk", "dump.bin")
		w.Write(file[300_000:600_000])
		mw.Close()
		u, _ := url.Parse(eva.base)
		conn, err := net.Dial("tcp", u.Host)
		if err != nil {
			t.Fatal(err)
		}
		var cookies []string
		for _, c := range eva.c.Jar.Cookies(u) {
			cookies = append(cookies, c.Name+"="+c.Value)
		}
		fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: %s\r\nCookie: %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n",
			up+"&upload="+id+"&offset=300000", u.Host, strings.Join(cookies, "; "), mw.FormDataContentType(), body.Len())
		conn.Write(body.Bytes()[:body.Len()/2])
		conn.Close()
		var at float64
		waitFor(t, 10*time.Second, "the node to keep what arrived of the cut piece", func() error {
			st, ans := call("&upload=" + id)
			at, _ = ans["offset"].(float64)
			if st != http.StatusOK || at <= 300_000 || at >= 600_000 {
				return fmt.Errorf("%d %v", st, ans)
			}
			return nil
		})
		st, ans = chunkReq(int(at), file[int(at):])
		if st != http.StatusCreated || ans["sha256"] != fmt.Sprintf("%x", sha256.Sum256(file)) {
			t.Fatalf("the rest: %d %v", st, ans)
		}
		f := resForm("Data dump")
		f.Set("attachment", ans["value"].(string))
		if got := resMultipart(eva, "/resources/new", "/resources/new", f, nil); got.status != http.StatusSeeOther {
			t.Fatalf("save with the resumed file: %d\n%s", got.status, got.body)
		}
		if st, _ := call("&upload=" + id); st != http.StatusNotFound {
			t.Errorf("a finished upload is still there: %d", st)
		}
		for i := range 8 {
			if st, ans := call("&start=1&name=part.bin&size=1000"); st != http.StatusOK {
				t.Fatalf("unfinished upload %d: %d %v", i+1, st, ans)
			}
		}
		if st, ans := call("&start=1&name=part.bin&size=1000"); st != http.StatusTooManyRequests || !strings.Contains(fmt.Sprint(ans["error"]), "too many files half sent") {
			t.Errorf("a ninth unfinished upload: %d %v", st, ans)
		}
	})

	var id string
	t.Run("save with a file, then edit", func(t *testing.T) {
		tok := formToken(eva.get("/resources/new").body)
		ans := resMultipart(eva, "", "/resources/upload?form_token="+tok, nil, []resFile{{"poster.pdf", []byte("%PDF-1.4 poster")}})
		var ref struct{ Value, Name string }
		if ans.status != http.StatusCreated || json.Unmarshal([]byte(ans.body), &ref) != nil || ref.Name != "poster.pdf" {
			t.Fatalf("upload ahead of the form: %d %s", ans.status, ans.body)
		}
		f := resForm("Safer Internet Day kit")
		f.Set("attachment", ref.Value)
		got := resMultipart(eva, "/resources/new", "/resources/new", f, []resFile{{"kit.pdf", []byte("%PDF-1.4 kit")}})
		m := resSavedID.FindStringSubmatch(got.location)
		if got.status != http.StatusSeeOther || m == nil {
			t.Fatalf("save: %d to %q\n%s", got.status, got.location, got.body)
		}
		id = m[1]
		edit := eva.get(got.location)
		for _, want := range []string{"Saved. This resource is now", "Remove poster.pdf", "Remove kit.pdf", `value="Safer Internet Day kit"`} {
			if !strings.Contains(edit.body, want) {
				t.Errorf("the edit page lacks %q\n%s", want, edit.body)
			}
		}
		// Remove one file and change the title.
		f = resForm("Safer Internet Day kit 2027")
		f.Set("attachment", ref.Value)
		var kit string
		for _, m := range regexp.MustCompile(`name="attachment" value="([^"]+)"`).FindAllStringSubmatch(edit.body, -1) {
			v := strings.ReplaceAll(m[1], "&#34;", `"`)
			if strings.Contains(v, "kit.pdf") {
				kit = v
			}
		}
		f.Add("attachment", kit)
		var kref struct {
			SHA256 string `json:"sha256"`
		}
		json.Unmarshal([]byte(kit), &kref)
		f.Set("remove", kref.SHA256)
		got = resMultipart(eva, "/resources/"+id, "/resources/"+id, f, nil)
		if got.status != http.StatusSeeOther {
			t.Fatalf("update: %d\n%s", got.status, got.body)
		}
		edit = eva.get("/resources/" + id)
		if strings.Contains(edit.body, "kit.pdf") || !strings.Contains(edit.body, "poster.pdf") || !strings.Contains(edit.body, "Safer Internet Day kit 2027") {
			t.Errorf("after the update:\n%s", edit.body)
		}
		pv := eva.get("/resources/" + id + "/preview")
		for _, want := range []string{"Preview", "Safer Internet Day kit 2027", "<dd>9–14</dd>", "<dd>Teachers, Children</dd>", "poster.pdf", "Safer Internet Day"} {
			if pv.status != 200 || !strings.Contains(pv.body, want) {
				t.Errorf("preview lacks %q: %d", want, pv.status)
			}
		}
	})

	t.Run("preview of the unsaved form, then save from it", func(t *testing.T) {
		f := resForm("Quiz on privacy")
		f.Set("action", "preview")
		pv := resMultipart(eva, "/resources/new", "/resources/new", f, nil)
		if pv.status != 200 || !strings.Contains(pv.body, "Preview — not published yet") || !strings.Contains(pv.body, "<h1>Quiz on privacy</h1>") {
			t.Fatalf("preview: %d\n%s", pv.status, pv.body)
		}
		if c := resCount(eva, "?q=privacy"); c != 0 {
			t.Fatalf("the preview saved it")
		}
		hidden := url.Values{}
		for _, m := range regexp.MustCompile(`<input type="hidden" name="([a-z_]+)" value="([^"]*)">`).FindAllStringSubmatch(pv.body, -1) {
			hidden.Add(m[1], strings.ReplaceAll(m[2], "&#34;", `"`))
		}
		hidden.Set("action", "save")
		action := regexp.MustCompile(`<form method="post" action="([^"]+)">`).FindAllStringSubmatch(pv.body, -1)
		got := eva.do("POST", strings.ReplaceAll(action[len(action)-1][1], "&amp;", "&"), hidden)
		if got.status != http.StatusSeeOther || resSavedID.FindStringSubmatch(got.location) == nil {
			t.Fatalf("save from the preview: %d %q\n%s", got.status, got.location, got.body)
		}
		if c := resCount(eva, "?q=privacy"); c != 1 {
			t.Errorf("search for it finds %d", c)
		}
	})

	t.Run("scheduled in Brussels time", func(t *testing.T) {
		f := resForm("Launch of the youth panel")
		f.Set("publish_at", "2031-02-10T08:00")
		got := resMultipart(eva, "/resources/new", "/resources/new", f, nil)
		if got.status != http.StatusSeeOther {
			t.Fatalf("save: %d\n%s", got.status, got.body)
		}
		list := eva.get("/resources/?state=scheduled")
		if !strings.Contains(list.body, "Launch of the youth panel") || !strings.Contains(list.body, "scheduled for 10 February 2031 at 8:00") {
			t.Errorf("scheduled list:\n%s", list.body)
		}
		edit := eva.get(got.location)
		if !strings.Contains(edit.body, `value="2031-02-10T08:00"`) {
			t.Error("the edit form does not show the publication time as typed")
		}
		dash := eva.get("/")
		href := strings.TrimSuffix(got.location, "?saved=1")
		if !strings.Contains(dash.body, `href="`+href+`"`) {
			t.Errorf("the dashboard does not link the scheduled resource to %s", href)
		}
	})

	t.Run("another centre's resource is not found", func(t *testing.T) {
		other := "nl:01JH3K5Z8X9Y7W6V5T4S3R2Q1P"
		for _, path := range []string{"/resources/" + other, "/resources/" + other + "/preview", "/resources/" + other + "/delete", "/resources/" + other + "/erase", "/resources/nonsense"} {
			if got := eva.get(path); got.status != http.StatusNotFound {
				t.Errorf("GET %s: %d, want 404", path, got.status)
			}
		}
		if got := eva.post("/resources/", "/resources/"+other+"/delete", url.Values{}); got.status != http.StatusNotFound {
			t.Errorf("POST delete: %d, want 404", got.status)
		}
	})

	before := resCount(eva, "")
	t.Run("a youth member may not write resources", func(t *testing.T) {
		yo := newPerson(t, base)
		yo.acceptInvitation(addMember(t, n, "lou@sic.example.be", "Lou", "youth"), testPassword)
		yo.signIn("lou@sic.example.be", testPassword)
		if got := yo.get("/resources/new"); got.status != http.StatusForbidden {
			t.Errorf("GET /resources/new: %d, want 403", got.status)
		}
		if got := resMultipart(yo, "/", "/resources/new", resForm("By youth"), nil); got.status != http.StatusForbidden {
			t.Errorf("POST /resources/new: %d, want 403", got.status)
		}
		if got := yo.get("/resources/" + id); got.status != http.StatusForbidden {
			t.Errorf("GET the edit page: %d, want 403", got.status)
		}
	})

	t.Run("forged requests are refused", func(t *testing.T) {
		tok := formToken(eva.get("/resources/new").body)
		// A token that differs from the right one in its first digit.
		wrong := "0" + tok[1:]
		if tok[0] == '0' {
			wrong = "1" + tok[1:]
		}
		cases := map[string]page{
			"no token":    resMultipart(eva, "", "/resources/new", resForm("Forged 1"), nil),
			"wrong token": resMultipart(eva, "", "/resources/new?form_token="+wrong, resForm("Forged 2"), nil),
			"cross-site": resMultipart(eva, "", "/resources/new?form_token="+tok, resForm("Forged 3"), nil,
				"Origin", "http://evil.example", "Sec-Fetch-Site", "cross-site"),
			"delete without token": eva.do("POST", "/resources/"+id+"/delete", url.Values{}),
		}
		for name, got := range cases {
			if got.status != http.StatusForbidden {
				t.Errorf("%s: %d, want 403", name, got.status)
			}
		}
		if c := resCount(eva, ""); c != before {
			t.Errorf("forged requests changed the count from %d to %d", before, c)
		}
	})
	if c := resCount(eva, ""); c != before {
		t.Errorf("a youth member or a forged request created something: %d, was %d", c, before)
	}

	t.Run("delete, then erase", func(t *testing.T) {
		conf := eva.get("/resources/" + id + "/delete")
		if conf.status != 200 || !strings.Contains(conf.body, "removes it from the portal and from every centre") || !strings.Contains(conf.body, "cannot be restored here") {
			t.Fatalf("delete confirmation: %d\n%s", conf.status, conf.body)
		}
		if got := eva.post("/resources/"+id+"/delete", "/resources/"+id+"/delete", url.Values{}); got.status != http.StatusSeeOther {
			t.Fatalf("delete: %d\n%s", got.status, got.body)
		}
		if c := resCount(eva, "?state=deleted"); c != 1 {
			t.Errorf("deleted list has %d", c)
		}
		if c := resCount(eva, ""); c != before-1 {
			t.Errorf("the list still has it: %d", c)
		}
		edit := eva.get("/resources/" + id)
		if !strings.Contains(edit.body, "This resource was deleted") || strings.Contains(edit.body, `name="title"`) {
			t.Errorf("edit page of a deleted resource:\n%s", edit.body)
		}
		if got := resMultipart(eva, "/resources/"+id, "/resources/"+id, resForm("Back again"), nil); got.status != http.StatusConflict {
			t.Errorf("saving a deleted resource: %d, want 409", got.status)
		}
		conf = eva.get("/resources/" + id + "/erase")
		if conf.status != 200 || !strings.Contains(conf.body, "It cannot be undone.") || !strings.Contains(conf.body, "lose their source") {
			t.Fatalf("erase confirmation: %d\n%s", conf.status, conf.body)
		}
		if got := eva.post("/resources/"+id+"/erase", "/resources/"+id+"/erase", url.Values{}); got.status != http.StatusSeeOther {
			t.Fatalf("erase: %d\n%s", got.status, got.body)
		}
		if edit := eva.get("/resources/" + id); !strings.Contains(edit.body, "erased") || strings.Contains(edit.body, "poster.pdf") {
			t.Errorf("edit page of an erased resource:\n%s", edit.body)
		}
	})
}

// resBrowser starts headless chromium for a journey and returns its tab
// with functions that save a full-page screenshot under testout/<test>/
// and run axe-core (WCAG 2.1 A and AA) on the page shown.
func resBrowser(t *testing.T) (ctx context.Context, shot func(string), audit func(string)) {
	b := startWebBrowser(t, t.Name())
	b.do("set the person's languages", acceptLanguage("en-GB,en;q=0.9"))
	return b.ctx, b.shot, b.audit
}

// TestE2E_ResourcesJourney is an invited editor publishing a resource for
// Safer Internet Day in a real browser: from the invitation to the file on
// the hub's portal, and a second resource waiting for its date.
func TestE2E_ResourcesJourney(t *testing.T) {
	nw := newNetwork(t)
	n := nw.addNode("be", "--time-zone", "Europe/Brussels")
	nw.startNode(n)
	base := "http://" + waitServing(t, n.dir, nodeAddrFile)
	link := addMember(t, n, "eva@sic.example.be", "Eva Peeters", "editor")
	ctx, shot, audit := resBrowser(t)
	css := func(s string) chromedp.CSS { return chromedp.CSS(s) }
	location := func() string { t.Helper(); return get(t, ctx, "read the location", chromedp.Location()) }

	// A file of a few megabytes that looks like a PDF, so progress shows.
	pdf := append([]byte("%PDF-1.4\n"), make([]byte, 4<<20)...)
	rand.Read(pdf[9:])
	pdf = append(pdf, "\n%%EOF\n"...)
	pdfPath := filepath.Join(t.TempDir(), "sid-kit.pdf")
	if err := os.WriteFile(pdfPath, pdf, 0o644); err != nil {
		t.Fatal(err)
	}

	do(t, ctx, "open the invitation", chromedp.Navigate(link), chromedp.WaitVisible(css("#password")))
	do(t, ctx, "set a password", chromedp.SendKeys(css("#password"), testPassword), chromedp.SendKeys(css("#confirm"), testPassword),
		chromedp.Click(css("main form button[type=submit]")), chromedp.WaitNotPresent(css("#confirm")))
	do(t, ctx, "open the sign-in page", chromedp.Navigate(base+"/signin"), chromedp.WaitVisible(css("#email")))
	do(t, ctx, "sign in", chromedp.SendKeys(css("#email"), "eva@sic.example.be"), chromedp.SendKeys(css("#password"), testPassword),
		chromedp.Click(css("main form button[type=submit]")), chromedp.WaitVisible(css(`nav a[href="/resources/"]`)))

	do(t, ctx, "open the resources", chromedp.Click(css(`nav a[href="/resources/"]`)), chromedp.WaitVisible(css("#found")))
	shot("01-list-empty")
	audit("the empty list")
	do(t, ctx, "start a new resource", chromedp.Click(css(`main a[href="/resources/new"]`)), chromedp.WaitVisible(css("#f-title")))
	audit("the new resource form")

	// Sent without a title or topics: the form comes back with what was typed.
	do(t, ctx, "send an incomplete form",
		chromedp.SendKeys(css("#f-description"), "Posters, lesson plans and a quiz for Safer Internet Day 2027."),
		chromedp.Click(css(`button[value=save]`)), chromedp.WaitVisible(css("#errors")))
	shot("02-form-errors")
	audit("the form with errors")
	if got := get(t, ctx, "read the description", chromedp.Value(css("#f-description"))); !strings.Contains(got, "Safer Internet Day 2027") {
		t.Errorf("the description typed was lost: %q", got)
	}

	do(t, ctx, "fill in the form",
		chromedp.SendKeys(css("#f-title"), "Safer Internet Day 2027 school kit"),
		chromedp.SetValue(css("#f-language"), "en"),
		chromedp.Click(css("#f-languages-nl")), chromedp.Click(css("#f-languages-fr")),
		chromedp.SetValue(css("#f-age-min"), "9"), chromedp.SetValue(css("#f-age-max"), "14"),
		chromedp.Click(css("#f-audiences-teachers")), chromedp.Click(css("#f-audiences-children")),
		chromedp.Click(css("#f-topics-cyberbullying")), chromedp.Click(css("#f-topics-online-safety")),
		chromedp.SetValue(css("#f-type"), "lesson-plan"), chromedp.SetValue(css("#f-licence"), "CC BY 4.0"),
		chromedp.SendKeys(css("#f-url"), "https://www.saferinternet.example.be/sid"),
		chromedp.Click(css("#f-minisites-sid")),
		chromedp.SetValue(css("#f-publish-at"), "2026-01-05T08:00"),
		chromedp.SetUploadFiles(css("#f-files"), []string{pdfPath}))
	// What the progress region says is kept across the page change.
	get(t, ctx, "watch the progress", chromedp.Evaluate[bool](`(() => {
		const box = document.querySelector('[data-upload-status]');
		sessionStorage.setItem('said', '[]');
		new MutationObserver(() => {
			const said = JSON.parse(sessionStorage.getItem('said'));
			said.push(box.querySelector('[data-upload-text]').textContent + ' | ' + box.querySelector('progress').value);
			sessionStorage.setItem('said', JSON.stringify(said));
		}).observe(box, {subtree: true, childList: true, characterData: true, attributes: true});
		return true;
	})()`))
	// A centre's uplink, not a loopback: the file takes a few seconds, in
	// pieces of 1 MiB, and the connection drops half-way.
	uplink := func(offline bool) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := cdp.Call(ctx, tg, cdpnetwork.EmulateNetworkConditionsByRule, cdpnetwork.EmulateNetworkConditionsByRuleParams{
				MatchedNetworkConditions: []*cdpnetwork.Conditions{{URLPattern: base + "/resources/upload*", DownloadThroughput: -1,
					UploadThroughput: 1 << 20, Offline: offline}}})
			return err
		})
	}
	do(t, ctx, "slow the upload down", uplink(false))
	get(t, ctx, "send the file in pieces of 1 MiB", chromedp.Evaluate[bool](`document.getElementById('f-files').setAttribute('data-chunk', String(1 << 20)), true`))
	do(t, ctx, "preview it", chromedp.Click(css(`button[value=preview]`)), chromedp.WaitVisible(css("[data-upload-status] p")))
	get(t, ctx, "wait for the upload to be under way", chromedp.Poll[bool](
		`(() => { const p = document.querySelector('[data-upload-status] progress'); return !!p && p.value >= 30; })()`))
	shot("03-uploading")
	audit("the form while a file is sent")
	do(t, ctx, "drop the connection", uplink(true))
	get(t, ctx, "wait for the script to notice", chromedp.Poll[bool](
		`(() => { const p = document.querySelector('[data-upload-text]'); return !!p && p.textContent.includes('connection was lost'); })()`))
	shot("03b-connection-lost")
	do(t, ctx, "connect again", uplink(false))
	do(t, ctx, "wait for the preview", chromedp.WaitVisible(css(".preview-banner")))
	said := get(t, ctx, "read what the progress said", chromedp.Evaluate[string](`sessionStorage.getItem('said')`))
	if !strings.Contains(said, "Sending sid-kit.pdf: 0%") || !strings.Contains(said, "The connection was lost at") || !strings.Contains(said, "sid-kit.pdf is sent. | 100") {
		t.Errorf("the upload's progress was not shown: %s", said)
	}
	shot("04-preview")
	audit("the preview")
	text := get(t, ctx, "read the preview", chromedp.Text(css("main")))
	for _, want := range []string{"Preview — not published yet", "Safer Internet Day 2027 school kit", "9–14", "Children, Teachers",
		"Cyberbullying, Online safety", "Lesson plan", "CC BY 4.0", "sid-kit.pdf", "Published as soon as it is saved"} {
		if !strings.Contains(text, want) {
			t.Errorf("the preview lacks %q:\n%s", want, text)
		}
	}
	do(t, ctx, "save it", chromedp.Click(css(`button[value=save]`)), chromedp.WaitVisible(css(`p.notice[role=status]`)))
	m := resSavedID.FindStringSubmatch(strings.TrimPrefix(location(), base))
	if m == nil {
		t.Fatalf("after saving: %s", location())
	}
	id := m[1]
	shot("05-saved")
	audit("the saved resource")

	// The portal shows it with its file, byte for byte.
	var portal string
	waitFor(t, 60*time.Second, "the resource on the hub's portal", func() error {
		code, body := httpGet(t, nw.hubURL+"/resources/"+id, "")
		if code != http.StatusOK || !strings.Contains(string(body), "Safer Internet Day 2027 school kit") {
			return fmt.Errorf("portal: %d", code)
		}
		portal = string(body)
		return nil
	})
	fm := regexp.MustCompile(`href="(/files/[0-9a-f]{64}/sid-kit.pdf)"`).FindStringSubmatch(portal)
	if fm == nil {
		t.Fatalf("the portal page has no link to the file:\n%s", portal)
	}
	resp, err := http.Get(nw.hubURL + fm[1])
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !bytes.Equal(got, pdf) {
		t.Errorf("the portal's file: %d, %d bytes, want the %d bytes sent", resp.StatusCode, len(got), len(pdf))
	}

	// A second one waits for its date, and the dashboard says so.
	do(t, ctx, "start another", chromedp.Navigate(base+"/resources/new"), chromedp.WaitVisible(css("#f-title")),
		chromedp.SendKeys(css("#f-title"), "Youth panel launch"),
		chromedp.SetValue(css("#f-age-min"), "13"), chromedp.SetValue(css("#f-age-max"), "18"),
		chromedp.Click(css("#f-audiences-teens")), chromedp.Click(css("#f-topics-wellbeing")),
		chromedp.SetValue(css("#f-type"), "campaign"), chromedp.Click(css("#f-minisites-youth")),
		chromedp.SetValue(css("#f-publish-at"), "2031-02-10T08:00"),
		chromedp.Click(css(`button[value=save]`)), chromedp.WaitVisible(css(`p.notice[role=status]`)))
	later := strings.TrimSuffix(strings.TrimPrefix(location(), base), "?saved=1")
	if note := get(t, ctx, "read the notice", chromedp.Text(css(".notice"))); !strings.Contains(note, "scheduled for 10 February 2031 at 8:00") {
		t.Errorf("the saved notice: %q", note)
	}
	do(t, ctx, "open the dashboard", chromedp.Navigate(base+"/"), chromedp.WaitVisible(css("#sched-h")))
	if dash := get(t, ctx, "read the dashboard", chromedp.OuterHTML(css("main"))); !strings.Contains(dash, `href="`+later+`"`) || !strings.Contains(dash, "Youth panel launch") {
		t.Errorf("the dashboard does not list the scheduled resource:\n%s", dash)
	}
	do(t, ctx, "follow the dashboard's link", chromedp.Click(css(`main a[href="`+later+`"]`)), chromedp.WaitVisible(css("#f-title")))

	do(t, ctx, "open the list", chromedp.Navigate(base+"/resources/"), chromedp.WaitVisible(css("#found")))
	shot("06-list")
	audit("the list")
	if list := get(t, ctx, "read the list", chromedp.Text(css("main"))); !strings.Contains(list, "scheduled for 10 February 2031") || !strings.Contains(list, "Dutch, English, French · on the network") {
		t.Errorf("the list:\n%s", list)
	}
	do(t, ctx, "open the delete confirmation", chromedp.Navigate(base+later+"/delete"), chromedp.WaitVisible(css("button.danger")))
	shot("07-delete")
	audit("the delete confirmation")
	do(t, ctx, "open the erase confirmation", chromedp.Navigate(base+later+"/erase"), chromedp.WaitVisible(css("button.danger")))
	shot("08-erase")
	audit("the erase confirmation")
	do(t, ctx, "erase it", chromedp.Click(css("button.danger")))
	// The answer redirects: the next page is only safe to leave once the
	// browser has arrived there.
	waitFor(t, 30*time.Second, "the page after erasing", func() error {
		if strings.HasSuffix(location(), "/erase") {
			return fmt.Errorf("still at %s", location())
		}
		return nil
	})
	do(t, ctx, "see the erased resource", chromedp.WaitVisible(css("main h1")))

	do(t, ctx, "phone width", chromedp.EmulateViewport(390, 844), chromedp.Navigate(base+"/resources/"), chromedp.WaitVisible(css("#found")))
	shot("09-phone-list")
	do(t, ctx, "phone: form with errors", chromedp.Navigate(base+"/resources/new"), chromedp.WaitVisible(css("#f-title")),
		chromedp.Click(css(`button[value=save]`)), chromedp.WaitVisible(css("#errors")))
	shot("10-phone-form-errors")
	if wide := get(t, ctx, "look for anything wider than the phone", chromedp.Evaluate[string](`(() => {
		const w = document.documentElement.clientWidth;
		return [...document.querySelectorAll('main *')].filter(e => e.getBoundingClientRect().right > w + 1)
			.slice(0, 5).map(e => e.tagName + '#' + e.id + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right)).join('; ');
	})()`)); wide != "" {
		t.Errorf("the form is wider than a phone: %s", wide)
	}
	audit("the form with errors on a phone")
	do(t, ctx, "phone: preview", chromedp.Navigate(base+"/resources/"+id+"/preview"), chromedp.WaitVisible(css(".preview-banner")))
	shot("11-phone-preview")
}
