package markup

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"
)

const blob = "/files/9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08/"

func TestRender_Kept(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []string
	}{
		{"paragraph and emphasis", "Hello *there* **you** ~~not~~", []string{
			"<p>Hello <em>there</em> <strong>you</strong> <del>not</del></p>"}},
		{"hard break", "one  \ntwo", []string{"one<br>", "two"}},
		{"backslash break", "one\\\ntwo", []string{"one<br>", "two"}},
		{"headings shift down", "# One\n\n## Two\n\n### Three\n\n#### Four\n\n###### Six", []string{
			"<h2>One</h2>", "<h3>Two</h3>", "<h4>Three</h4>", "<h4>Four</h4>", "<h4>Six</h4>"}},
		{"setext heading shifts", "Title\n=====", []string{"<h2>Title</h2>"}},
		{"lists", "- a\n- b\n\n3. c\n4. d", []string{"<ul>\n<li>a</li>", `<ol start="3">`, "<li>d</li>"}},
		{"task list as characters", "- [x] done\n- [ ] to do", []string{"<li>☑ done</li>", "<li>☐ to do</li>"}},
		{"quote", "> wise", []string{"<blockquote>\n<p>wise</p>\n</blockquote>"}},
		{"code", "`a<b`\n\n```go\nif a < b {}\n```", []string{"<code>a&lt;b</code>", "<pre><code>if a &lt; b {}\n</code></pre>"}},
		{"rule", "a\n\n---\n\nb", []string{"<hr>"}},
		{"table with alignment", "| a | b |\n|:--|--:|\n| 1 | 2 |", []string{
			"<table>", `<th align="left">a</th>`, `<td align="right">2</td>`, "</table>"}},
		{"https link gets rel", "[site](https://www.betterinternetforkids.eu/ \"BIK\")", []string{
			`<a href="https://www.betterinternetforkids.eu/" title="BIK" rel="nofollow ugc noopener noreferrer">site</a>`}},
		{"relative link", "[page](/portal/resources?q=1&lang=nl)", []string{
			`<a href="/portal/resources?q=1&amp;lang=nl" rel="nofollow ugc noopener noreferrer">page</a>`}},
		{"mailto link", "[write](mailto:info@example.org)", []string{`href="mailto:info@example.org"`}},
		{"autolinks", "<https://example.org> www.example.org info@example.org", []string{
			`<a href="https://example.org" rel="nofollow ugc noopener noreferrer">https://example.org</a>`,
			`<a href="http://www.example.org" rel="nofollow ugc noopener noreferrer">www.example.org</a>`,
			`<a href="mailto:info@example.org" rel="nofollow ugc noopener noreferrer">info@example.org</a>`}},
		{"reference link", "[a][r]\n\n[r]: https://example.org/x", []string{`<a href="https://example.org/x"`}},
		{"attachment image", "![A poster](" + blob + "poster.png \"Poster\")", []string{
			`<img src="` + blob + `poster.png" alt="A poster" title="Poster" loading="lazy">`}},
		{"description and title with punctuation", "![Poster: \"Be kind?\" <3 & more](" + blob + "p.png \"Why? Because: 100%\")", []string{
			`alt="Poster: &#34;Be kind?&#34; &lt;3 &amp; more"`, `title="Why? Because: 100%"`}},
		{"raw HTML shown as text", "Use <b>bold</b> & <br> here", []string{
			"<p>Use &lt;b&gt;bold&lt;/b&gt; &amp; &lt;br&gt; here</p>"}},
		{"entities", "caf&eacute; &#x41; &lt;", []string{"café A &lt;"}},
		{"unicode", "Ελληνικά — ½ 🙂", []string{"<p>Ελληνικά — ½ 🙂</p>"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := mustRender(t, tt.src)
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("Render(%q) = %q, want it to contain %q", tt.src, got, w)
				}
			}
		})
	}
}

func TestRender_Removed(t *testing.T) {
	tests := []struct {
		name   string
		src    string
		absent []string // case-insensitive, anywhere in the markup of tags
		want   string   // what the reader sees instead, when it matters
	}{
		{"script element", "<script>alert(1)</script>", nil, "&lt;script&gt;alert(1)&lt;/script&gt;"},
		{"script block", "<script>\nalert(1)\n</script>\n\nafter", nil, "<p>after</p>"},
		{"img onerror", "<img src=x onerror=alert(1)>", []string{"<img"}, ""},
		{"javascript link", "[x](javascript:alert(1))", []string{"<a"}, "<p>x</p>"},
		{"mixed-case javascript link", "[x](JaVaScRiPt:alert(1))", []string{"<a"}, "<p>x</p>"},
		{"entity-encoded javascript", "[x](&#106;avascript:alert(1))", []string{"<a"}, "<p>x</p>"},
		{"hex-entity javascript", "[x](&#x6A;&#x61;vascript&#x3A;alert(1))", []string{"<a"}, "<p>x</p>"},
		{"percent-encoded javascript is relative", "[x](javascript%3Aalert(1))", []string{"javascript:"}, ""},
		{"backslash javascript", "[x](java\\script:alert(1))", []string{"script:"}, ""},
		{"tab in scheme", "[x](<java\tscript:alert(1)>)", []string{"<a"}, ""},
		{"vbscript link", "[x](vbscript:msgbox(1))", []string{"<a"}, "<p>x</p>"},
		{"data link", "[x](data:text/html,<script>alert(1)</script>)", []string{"<a"}, ""},
		{"data image link", "[x](data:image/png;base64,AAAA)", []string{"<a"}, "<p>x</p>"},
		{"file link", "[x](file:///etc/passwd)", []string{"<a"}, "<p>x</p>"},
		{"data href in HTML", `<a href="data:text/html,<script>alert(1)</script>">x</a>`, []string{"<a"}, ""},
		{"javascript autolink", "<javascript:alert(1)>", []string{"<a"}, "<p>javascript&#58;alert(1)</p>"},
		{"javascript reference", "[x][r]\n\n[r]: javascript:alert(1)", []string{"<a"}, "<p>x</p>"},
		{"iframe", `<iframe src="https://evil.example"></iframe>`, []string{"<iframe"}, ""},
		{"object and embed", `<object data="x.swf"></object><embed src="x.swf">`, []string{"<object", "<embed"}, ""},
		{"form", `<form action="/x"><input name="a"><button>go</button></form>`, []string{"<form", "<input", "<button"}, ""},
		{"svg onload", `<svg onload=alert(1)>`, []string{"<svg"}, ""},
		{"style attribute", `<p style="color:red">x</p>`, []string{"<p style", " style="}, ""},
		{"style element", "<style>body{display:none}</style>", []string{"<style"}, ""},
		{"image off the attachment store", "![tracker](https://evil.example/pixel.gif)", []string{"<img"}, "<p>tracker</p>"},
		{"image with javascript", "![x](javascript:alert(1))", []string{"<img"}, "<p>x</p>"},
		{"image with data URL", "![x](data:image/png;base64,AAAA)", []string{"<img"}, "<p>x</p>"},
		{"image climbing out of files", "![x](/files/../admin)", []string{"<img"}, "<p>x</p>"},
		{"image with dot name", "![x](" + blob + "..)", []string{"<img"}, "<p>x</p>"},
		{"markdown inside HTML", `<a href="javascript:alert(1)">[x](https://ok.example)</a>`, []string{"javascript:"}, ""},
		{"HTML inside link text", `[<img src=x onerror=alert(1)>](https://ok.example)`, []string{"<img", "onerror="}, ""},
		{"link title breaking out", `[x](https://ok.example "a\" onmouseover=\"alert(1)")`, []string{` onmouseover="`}, ""},
		{"attribute syntax is not parsed", "# Title {#id onclick=alert(1)}\n\n[x](https://ok.example){onclick=alert(1)}", []string{" id=", `onclick="`}, ""},
		{"comment", "<!-- <script>alert(1)</script> -->", []string{"<!--"}, ""},
		{"cdata", "<![CDATA[<script>alert(1)</script>]]>", []string{"<![cdata", "<script"}, ""},
		{"h1 from HTML", "<h1>Big</h1>", []string{"<h1"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := mustRender(t, tt.src)
			assertSafe(t, tt.src, got)
			tags := strings.ToLower(strings.Join(tagsOf(t, got), ""))
			for _, a := range tt.absent {
				if strings.Contains(tags, strings.ToLower(a)) {
					t.Errorf("Render(%q) = %q, tags contain %q", tt.src, got, a)
				}
			}
			if tt.want != "" && !strings.Contains(got, tt.want) {
				t.Errorf("Render(%q) = %q, want it to contain %q", tt.src, got, tt.want)
			}
		})
	}
}

// TestRender_Defused checks that the words written with a character
// reference read, and link, exactly as the author wrote them.
func TestRender_Defused(t *testing.T) {
	src := "Never paste javascript: links; x onclick=y is [text](<https://a.example/?q=javascript:x&b= onload=1> \"Beware JavaScript: links\")."
	got := mustRender(t, src)
	if m := literal.FindString(got); m != "" {
		t.Fatalf("Render = %q contains %q", got, m)
	}
	var text strings.Builder
	var href, title string
	z := html.NewTokenizer(strings.NewReader(got))
	for tt := z.Next(); tt != html.ErrorToken; tt = z.Next() {
		tok := z.Token()
		switch {
		case tt == html.TextToken:
			text.WriteString(tok.Data)
		case tok.Data == "a" && tt == html.StartTagToken:
			href, title = attr(tok, "href"), attr(tok, "title")
		}
	}
	if want := "Never paste javascript: links; x onclick=y is text.\n"; text.String() != want {
		t.Errorf("text = %q, want %q", text.String(), want)
	}
	if want := "https://a.example/?q=javascript:x&b=%20onload=1"; href != want {
		t.Errorf("href = %q, want %q", href, want)
	}
	if want := "Beware JavaScript: links"; title != want {
		t.Errorf("title = %q, want %q", title, want)
	}
}

func TestRender_Limits(t *testing.T) {
	t.Run("too long", func(t *testing.T) {
		_, err := Render(strings.Repeat("a", MaxSize+1))
		if !errors.Is(err, ErrTooLong) {
			t.Fatalf("err = %v, want ErrTooLong", err)
		}
		if !strings.Contains(err.Error(), fmt.Sprint(MaxSize)) {
			t.Errorf("err = %q, want it to name the limit", err)
		}
	})
	t.Run("at the limit", func(t *testing.T) {
		src := strings.Repeat(strings.Repeat("word ", 1000)+"\n\n", MaxSize/5002+1)[:MaxSize]
		if _, err := Render(src); err != nil {
			t.Fatalf("Render of %d bytes: %v", len(src), err)
		}
	})
	t.Run("long line", func(t *testing.T) {
		_, err := Render(strings.Repeat("a ", MaxLine/2+1))
		if !errors.Is(err, ErrTooComplex) {
			t.Fatalf("err = %v, want ErrTooComplex", err)
		}
	})
	t.Run("deep but allowed", func(t *testing.T) {
		if _, err := Render(strings.Repeat("> ", 8) + "- x"); err != nil {
			t.Fatalf("Render of a 9-level quote: %v", err)
		}
	})
	t.Run("wide rule is no nesting", func(t *testing.T) {
		if _, err := Render(strings.Repeat("* ", 60)); err != nil {
			t.Fatalf("Render of a rule: %v", err)
		}
	})

	// Each bomb fills MaxSize; whether refused or rendered, it must be
	// quick and bounded.
	line := func(s string) string { return strings.Repeat(s, MaxLine/len(s)+1)[:MaxLine-1] + "\n" }
	fill := func(s string) string { return strings.Repeat(s, MaxSize/len(s)+1)[:MaxSize] }
	bombs := map[string]string{
		"quote nesting":      fill(">"),
		"list nesting":       fill("- "),
		"ordered nesting":    fill("1. "),
		"quote-list nesting": fill("> - "),
		"indented nesting":   nestedList(250),
		"emphasis nesting":   strings.Repeat("*", MaxLine/2-1) + "a" + strings.Repeat("*", MaxLine/2-1),
		"brackets":           fill(line("[")),
		"image brackets":     fill(line("![")),
		"open destinations":  fill(line("[a](")),
		"emphasis runs":      fill(line("**a ")),
		"backticks":          fill(line("`a")),
		"angle brackets":     fill(line("<")),
		"one long line":      fill("[a]("),
		"reference bomb": "[r]: /" + strings.Repeat("x", 8000) + " '" + strings.Repeat("t", 100) + "'\n\n" +
			fill(line("[a][r]"))[:MaxSize-8200],
		"table padding":    "|" + strings.Repeat("a|", 2000) + "\n|" + strings.Repeat("-|", 2000) + "\n" + fill("x\n")[:MaxSize-8100],
		"table in a quote": "> |" + strings.Repeat("a|", 2000) + "\n> |" + strings.Repeat("-|", 2000) + "\n" + fill("> x\n")[:MaxSize-8100],
		"table on carriage returns": fill("|" + strings.Repeat("a|", 500) + "\r|" + strings.Repeat("-|", 500) + "\r" +
			strings.Repeat("x\r", 1500) + "\n\n"),
		"table in a list": "- |" + strings.Repeat("a|", 2000) + "\n  |" + strings.Repeat("-|", 2000) + "\n" + fill("  x\n")[:MaxSize-8100],
		"many tables":     fill("|a|b|\n|-|-|\n|1|2|\n\n"),
		"entities":        fill("&#x41;&amp;"),
		"hard breaks":     fill("a  \n"),
		"link in link":    fill(line("[[a](b)](c)")),
		"autolink soup":   fill(line("www.a.b http://x.y <a@b.c> ")),
		"html blocks":     fill("<div>\n\n"),
		"fenced in list":  fill("- ```\n  a\n"),
	}
	for name, src := range bombs {
		t.Run(name, func(t *testing.T) {
			start := time.Now()
			got, err := Render(src)
			took := time.Since(start)
			if err != nil && !errors.Is(err, ErrTooComplex) {
				t.Fatalf("err = %v, want nil or ErrTooComplex", err)
			}
			if len(got) > MaxOutput*2 {
				t.Errorf("output %d bytes, want at most about %d", len(got), MaxOutput)
			}
			if took > 2*time.Second {
				t.Errorf("Render took %v", took)
			}
			start = time.Now()
			_ = Excerpt(src, 200)
			if took := time.Since(start); took > 2*time.Second {
				t.Errorf("Excerpt took %v", took)
			}
			t.Logf("%d bytes in %v, err %v", len(src), took, err)
		})
	}
	t.Run("nesting and large tables are refused", func(t *testing.T) {
		for _, src := range []string{
			fill(">"), nestedList(250), strings.Repeat("> ", MaxDepth+1) + "x",
			bombs["table padding"], bombs["table in a quote"], bombs["table on carriage returns"], bombs["table in a list"],
		} {
			if _, err := Render(src); !errors.Is(err, ErrTooComplex) {
				t.Errorf("Render(%.20q…) err = %v, want ErrTooComplex", src, err)
			}
		}
	})
}

func nestedList(n int) string {
	var b strings.Builder
	for i := range n {
		b.WriteString(strings.Repeat("  ", i) + "- x\n")
	}
	return b.String()
}

// TestRender_NeverUnsafe renders many inputs assembled from the pieces
// attacks are made of and checks every output against the allow-list.
func TestRender_NeverUnsafe(t *testing.T) {
	pieces := []string{
		"<script>", "</script>", "<img src=x onerror=alert(1)>", "<svg onload=alert(1)>", "<a href=\"", "\">",
		"javascript:", "JaVaScRiPt:", "&#106;", "&#x6A;avascript&#x3A;", "vbscript:", "data:text/html,", "alert(1)",
		"[", "]", "(", ")", "![", "<", ">", "\"", "'", "`", "```", "\n", "\n\n", " ", "\t", "*", "_", "~~", "#", "> ",
		"- ", "1. ", "|", "|-|", ":", "/", "\\", "&", ";", "=", " onclick=", " style=", "{", "}", "www.", "https://",
		"mailto:", "@", "x", "/files/", blob, "..", "<!--", "-->", "<iframe>", "<style>", "[r]: ", "[r]", "\x00", "\u2028",
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 3000 {
		var b strings.Builder
		for range 1 + rng.IntN(40) {
			b.WriteString(pieces[rng.IntN(len(pieces))])
		}
		src := b.String()
		got, err := Render(src)
		if err != nil {
			t.Fatalf("Render(%q): %v", src, err)
		}
		assertSafe(t, src, string(got))
	}
}

func FuzzRender(f *testing.F) {
	for _, s := range []string{
		"# Hi\n\n*a* **b** ~~c~~ `d`", "[x](javascript:alert(1))", "<script>alert(1)</script>",
		"<img src=x onerror=alert(1)>", "![a](" + blob + "a.png)", "| a | b |\n|---|---|\n| 1 | 2 |",
		"- [x] a\n- [ ] b", "[a][r]\n\n[r]: /x", "> > > - 1. x", "<https://a.example> www.b.example c@d.example",
		"[x](&#106;avascript:alert(1))", `<a href="data:text/html,x">x</a>`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		got, err := Render(src)
		if err != nil {
			if !errors.Is(err, ErrTooLong) && !errors.Is(err, ErrTooComplex) {
				t.Fatalf("Render(%q): unexpected error %v", src, err)
			}
			if len(src) <= MaxSize && errors.Is(err, ErrTooLong) {
				t.Fatalf("Render of %d bytes: %v", len(src), err)
			}
			return
		}
		if len(got) > 2*MaxOutput {
			t.Fatalf("Render(%q) wrote %d bytes", src, len(got))
		}
		assertSafe(t, src, string(got))
		_ = Text(src)
		_ = Excerpt(src, 80)
	})
}

func BenchmarkRender(b *testing.B) {
	para := "Young people across the network told us what they **want** from a safer internet: " +
		"[clear reporting](https://www.betterinternetforkids.eu/), *kind* moderation and ~~fewer~~ no dark patterns. "
	var src strings.Builder
	src.WriteString("# What we heard\n\n")
	for src.Len() < 4<<10 {
		src.WriteString(para + "\n\n- one point\n- another `point`\n\n> a quote\n\n")
	}
	b.SetBytes(int64(src.Len()))
	for b.Loop() {
		if _, err := Render(src.String()); err != nil {
			b.Fatal(err)
		}
	}
}

func mustRender(t *testing.T, src string) string {
	t.Helper()
	got, err := Render(src)
	if err != nil {
		t.Fatalf("Render(%q): %v", src, err)
	}
	return string(got)
}

// allowed is the allow-list the tests hold the output to, written out
// independently of the policy.
var allowed = map[string][]string{
	"p": nil, "br": nil, "hr": nil, "em": nil, "strong": nil, "del": nil, "code": nil, "pre": nil,
	"blockquote": nil, "ul": nil, "ol": {"start"}, "li": nil, "h2": nil, "h3": nil, "h4": nil,
	"table": nil, "thead": nil, "tbody": nil, "tr": nil, "th": {"align"}, "td": {"align"},
	"a": {"href", "title", "rel"}, "img": {"src", "alt", "title", "loading"},
}

// literal is what the output never contains, in tags or in text.
var literal = regexp.MustCompile(`(?i)<script|\son[a-z]+=|javascript:`)

var eventAttr = regexp.MustCompile(`(?i)\son[a-z]+\s*=`)

// assertSafe checks html against the allow-list: known elements and
// attributes only, no event handler, links with http, https, mailto or
// relative addresses and the rel, images from the attachment store only;
// and "<script", "javascript:" and " on…=" nowhere at all.
func assertSafe(t *testing.T, src, out string) {
	t.Helper()
	if m := literal.FindString(out); m != "" {
		t.Fatalf("Render(%q) = %q contains %q", src, out, m)
	}
	z := html.NewTokenizer(strings.NewReader(out))
	for {
		tt := z.Next()
		if tt == html.ErrorToken {
			return
		}
		if tt == html.CommentToken || tt == html.DoctypeToken {
			t.Fatalf("Render(%q) = %q has a %v", src, out, tt)
		}
		if tt != html.StartTagToken && tt != html.SelfClosingTagToken && tt != html.EndTagToken {
			continue
		}
		raw := string(z.Raw())
		tok := z.Token()
		attrs, ok := allowed[tok.Data]
		if !ok {
			t.Fatalf("Render(%q) = %q has element %q", src, out, tok.Data)
		}
		for _, a := range tok.Attr {
			if !contains(attrs, a.Key) || strings.HasPrefix(strings.ToLower(a.Key), "on") {
				t.Fatalf("Render(%q) = %q has %s[%s]", src, out, tok.Data, a.Key)
			}
			switch a.Key {
			case "href":
				u, err := url.Parse(a.Val)
				if err != nil {
					t.Fatalf("Render(%q) = %q has unparseable href %q", src, out, a.Val)
				}
				switch strings.ToLower(u.Scheme) {
				case "", "http", "https", "mailto":
				default:
					t.Fatalf("Render(%q) = %q links to scheme %q", src, out, u.Scheme)
				}
				if strings.HasPrefix(strings.ToLower(strings.TrimSpace(a.Val)), "javascript:") {
					t.Fatalf("Render(%q) = %q links to javascript:", src, out)
				}
			case "src":
				if !filesURL.MatchString(a.Val) {
					t.Fatalf("Render(%q) = %q has image %q", src, out, a.Val)
				}
			}
		}
		if tok.Data == "a" && tt == html.StartTagToken {
			if rel := attr(tok, "rel"); rel != linkRel {
				t.Fatalf("Render(%q) = %q has a link with rel %q", src, out, rel)
			}
		}
		// An event attribute can only hide in a quoted value; outside
		// values the tag must not show one.
		if m := eventAttr.FindString(stripValues(raw)); m != "" {
			t.Fatalf("Render(%q) = %q has %q in tag %q", src, out, m, raw)
		}
	}
}

func tagsOf(t *testing.T, out string) []string {
	t.Helper()
	var tags []string
	z := html.NewTokenizer(strings.NewReader(out))
	for {
		switch z.Next() {
		case html.ErrorToken:
			return tags
		case html.StartTagToken, html.SelfClosingTagToken, html.EndTagToken, html.CommentToken:
			tags = append(tags, string(z.Raw()))
		}
	}
}

var quoted = regexp.MustCompile(`"[^"]*"`)

func stripValues(tag string) string { return quoted.ReplaceAllString(tag, `""`) }

func attr(tok html.Token, key string) string {
	for _, a := range tok.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// TestRender_Concurrent shares the one parser, renderer and policy between
// goroutines, as the web servers do; run with -race.
func TestRender_Concurrent(t *testing.T) {
	src := "# T\n\n[a](https://a.example) ![p](" + blob + "p.png) | a |\n|---|\n| 1 |\n\n- [x] x"
	want := mustRender(t, src)
	errs := make(chan error, 8)
	for range 8 {
		go func() {
			for range 50 {
				got, err := Render(src)
				if err == nil && string(got) != want {
					err = fmt.Errorf("got %q, want %q", got, want)
				}
				if err != nil {
					errs <- err
					return
				}
				_ = Excerpt(src, 10)
			}
			errs <- nil
		}()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}
