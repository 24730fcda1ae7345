package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/bikfed/bikfed/node"
	"github.com/bikfed/bikfed/protocol"
)

// recordVideo has Chromium draw three seconds of frames on a canvas and
// record them as WebM with MediaRecorder (the machine has no ffmpeg), and
// returns the video and a PNG of the last frame, for a poster.
const recordVideo = `(async () => {
	const c = document.createElement('canvas');
	c.width = 320; c.height = 180;
	document.body.appendChild(c);
	const g = c.getContext('2d');
	const rec = new MediaRecorder(c.captureStream(25), {mimeType: 'video/webm;codecs=vp8'});
	const chunks = [];
	rec.ondataavailable = e => { if (e.data.size) chunks.push(e.data); };
	const stopped = new Promise(r => rec.onstop = r);
	const start = performance.now();
	const draw = () => {
		const t = performance.now() - start;
		g.fillStyle = 'hsl(' + Math.round(t / 10) % 360 + ', 70%, 35%)';
		g.fillRect(0, 0, 320, 180);
		g.fillStyle = '#fff';
		g.font = '40px sans-serif';
		g.fillText((t / 1000).toFixed(1) + ' s', 100, 100);
	};
	draw();
	rec.start(100);
	await new Promise(done => {
		const tick = setInterval(() => {
			draw();
			if (performance.now() - start > 3000) { clearInterval(tick); done(); }
		}, 40);
	});
	rec.stop();
	await stopped;
	const bytes = new Uint8Array(await new Blob(chunks).arrayBuffer());
	let s = '';
	for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
	return JSON.stringify({video: btoa(s), poster: c.toDataURL('image/png').split(',')[1]});
})()`

// playVideo starts the page's video, muted, and reports where it was just
// after play() and a second and a half later, and its text tracks.
const playVideo = `(async () => {
	const v = document.querySelector('video');
	v.muted = true;
	await v.play();
	const t0 = v.currentTime;
	await new Promise(r => setTimeout(r, 1500));
	return JSON.stringify({t0, t1: v.currentTime, paused: v.paused,
		tracks: [...v.textTracks].map(t => ({kind: t.kind, lang: t.language, label: t.label, mode: t.mode}))});
})()`

// attachAs posts a file to a node's admin API with its media type, as the
// workspace does, and returns its reference.
func attachAs(t *testing.T, a adminAPI, name, mediaType string, content []byte) protocol.BlobRef {
	t.Helper()
	req, _ := http.NewRequest("POST", a.base+node.PathAdminBlobs+"?name="+url.QueryEscape(name), bytes.NewReader(content))
	req.Header.Set("Authorization", "Bearer "+a.token)
	req.Header.Set("Content-Type", mediaType)
	resp, err := apiClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var ref protocol.BlobRef
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("attach %s: %s", name, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(&ref); err != nil {
		t.Fatal(err)
	}
	return ref
}

// TestE2E_PortalVideo: a SIC publishes a video, recorded by Chromium itself,
// with French and English captions and a poster; a French visitor plays it
// on its page, muted, with the French captions chosen, and finds it in the
// video gallery; axe-core and a phone's width on both pages.
func TestE2E_PortalVideo(t *testing.T) {
	videoJourney(t, newNetwork(t), nil)
}

// TestE2E_PortalVideoS3: the same with attachments in MinIO and downloads
// redirected to presigned URLs, as a hub on S3 runs by default: the pages
// must allow the store's origin for the video and its poster, and the
// captions, which a <track> loads only from the page's origin, are served
// by the hub itself.
func TestE2E_PortalVideoS3(t *testing.T) {
	nw, _ := s3Network(t)
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	videoJourney(t, nw, func(blobs []protocol.BlobRef) {
		// A mirror with the hub's object store settings answers as the hub.
		m := nw.addMirror("eu1")
		m.ready(t)
		for _, base := range []string{nw.hubURL, m.URL} {
			for _, b := range blobs {
				resp, err := noRedirect.Get(base + "/files/" + b.SHA256 + "/" + b.Name)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				want := http.StatusFound
				if b.MediaType == "text/vtt" {
					want = http.StatusOK
				}
				if resp.StatusCode != want {
					t.Errorf("GET %s%s: %s, want %d", base, b.Name, resp.Status, want)
				}
				if want == http.StatusFound {
					got, err := http.Get(resp.Header.Get("Location"))
					if err != nil {
						t.Fatal(err)
					}
					n, _ := io.Copy(io.Discard, got.Body)
					got.Body.Close()
					if got.StatusCode != http.StatusOK || n != b.Size {
						t.Errorf("%s%s redirects to %s: %s, %d bytes of %d", base, b.Name, resp.Header.Get("Location"), got.Status, n, b.Size)
					}
				}
			}
		}
	})
}

// videoJourney is the video's journey on network nw; files, when not nil,
// checks the attachments' downloads once they are public.
func videoJourney(t *testing.T, nw *network, files func([]protocol.BlobRef)) {
	be := nw.addNode("be", fastSync...)
	nw.startNode(be)
	a := admin(t, be)
	b := startVisitor(t, "fr")

	var rec struct{ Video, Poster string }
	out := get(t, b.ctx, "record a video", chromedp.Evaluate[string](recordVideo, chromedp.EvalAwaitPromise))
	if err := json.Unmarshal([]byte(out), &rec); err != nil {
		t.Fatal(err)
	}
	video, err := base64.StdEncoding.DecodeString(rec.Video)
	if err != nil || len(video) < 1000 {
		t.Fatalf("the recorded video: %d bytes, %v", len(video), err)
	}
	poster, err := base64.StdEncoding.DecodeString(rec.Poster)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("recorded %d bytes of WebM", len(video))
	captions := func(text string) []byte {
		return []byte("WEBVTT\n\n00:00.000 --> 00:03.000\n" + text + "\n")
	}
	blobs := []protocol.BlobRef{
		attachAs(t, a, "mots-de-passe.webm", "video/webm", video),
		attachAs(t, a, "mots-de-passe.fr.vtt", "text/vtt", captions("Un bon mot de passe est long.")),
		attachAs(t, a, "mots-de-passe.en.vtt", "text/vtt", captions("A good password is long.")),
		attachAs(t, a, "affiche.png", "image/png", poster),
	}
	body, _ := json.Marshal(protocol.Resource{Title: "Les mots de passe en trois secondes", Description: "Une courte vidéo sur les mots de passe.",
		Language: "fr", Languages: []string{"fr", "en"}, AgeMin: 8, AgeMax: 12, Audiences: []string{"children"}, Topics: []string{"privacy"},
		Type: "video", Licence: "CC BY 4.0"})
	draft, _ := json.Marshal(node.Draft{Kind: protocol.KindResource, Visibility: protocol.VisibilityPublic, Body: body, Blobs: blobs})
	status, res, err := a.do("POST", node.PathAdminEntities, draft)
	if err != nil || status != http.StatusCreated {
		t.Fatalf("create the resource: %d %v %s", status, err, res)
	}
	var ent node.Entity
	if err := json.Unmarshal(res, &ent); err != nil {
		t.Fatal(err)
	}
	page := "/fr/resources/" + ent.ID
	videoURL := "/files/" + blobs[0].SHA256 + "/" + blobs[0].Name
	waitFor(t, 60*time.Second, "the video on the portal", func() error {
		for _, p := range []string{page, videoURL} {
			resp, err := http.Get(nw.hubURL + p)
			if err != nil {
				return err
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("%s: %s", p, resp.Status)
			}
		}
		return nil
	})

	if files != nil {
		files(blobs)
	}
	b.open(nw.hubURL+page, "video")
	var play struct {
		T0, T1 float64
		Paused bool
		Tracks []struct{ Kind, Lang, Label, Mode string }
	}
	if err := json.Unmarshal([]byte(get(t, b.ctx, "play the video", chromedp.Evaluate[string](playVideo, chromedp.EvalAwaitPromise))), &play); err != nil {
		t.Fatal(err)
	}
	if play.Paused || play.T1 <= play.T0 {
		t.Errorf("the video does not play: currentTime %.2f s, then %.2f s, paused %v", play.T0, play.T1, play.Paused)
	}
	var langs []string
	for _, tr := range play.Tracks {
		langs = append(langs, tr.Lang+" "+tr.Kind+" "+tr.Label+" "+tr.Mode)
	}
	if got, want := strings.Join(langs, "; "), "fr captions français showing; en captions English disabled"; got != want {
		t.Errorf("the video's text tracks: %s, want %s", got, want)
	}
	get(t, b.ctx, "pause", chromedp.Evaluate[bool](`(document.querySelector('video').pause(), true)`))
	b.check("fr-video")
	fitsPhone(t, b, page, "fr-video")
	b.do("widen again", chromedp.EmulateViewport(1280, 900))

	b.open(nw.hubURL+"/fr/videos", ".cards .card")
	card := `.cards .card.video h3 a[href="` + page + `"]`
	b.mustShow(card, "Les mots de passe en trois secondes")
	if n := get(t, b.ctx, "find the poster", chromedp.Evaluate[int](`document.querySelectorAll('.cards .card.video img.poster[alt=""]').length`)); n != 1 {
		t.Errorf("the video's card shows %d posters", n)
	}
	b.check("fr-videos")
	fitsPhone(t, b, "/fr/videos", "fr-videos")
}
