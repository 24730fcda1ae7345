package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/bikfed/bikfed/internal/blobstore/blobstoretest"
	"github.com/bikfed/bikfed/internal/miniotest"
	"github.com/bikfed/bikfed/protocol"
)

const (
	// bigSize is the attachment of the end-to-end tests: large enough that
	// a process holding it would stand out against maxRSSGrowth.
	bigSize = 200 << 20
	// maxRSSGrowth bounds how far the attachment passing through may raise
	// a process's peak resident memory above its peak before the transfer
	// (a command's whole peak, as it starts for the transfer): half the
	// attachment's size. Streaming holds a few buffers; what else grows is
	// garbage the collector lets accumulate in proportion to the live heap
	// (GOGC), and a server's own footprint (its catalogues in 28 languages,
	// its caches) is not the attachment's.
	maxRSSGrowth = 100 << 20
	e2eBucket    = "bikfed-e2e"
)

// s3Network starts a MinIO and a hub that keeps attachments in it, with the
// settings in the environment (inherited by every process the test starts),
// and JSON logs so the test can read what the hub did.
func s3Network(t *testing.T) (*network, *minio.Client) {
	t.Helper()
	endpoint, access, secret := miniotest.Start(t)
	for k, v := range map[string]string{
		"BIKFED_BLOB_STORE":     "s3",
		"BIKFED_S3_ENDPOINT":    "http://" + endpoint,
		"BIKFED_S3_BUCKET":      e2eBucket,
		"AWS_ACCESS_KEY_ID":     access,
		"AWS_SECRET_ACCESS_KEY": secret,
		"BIKFED_LOG_FORMAT":     "json",
	} {
		t.Setenv(k, v)
	}
	mc, err := minio.New(endpoint, &minio.Options{Creds: credentials.NewStaticV4(access, secret, "")})
	if err != nil {
		t.Fatal(err)
	}
	return newNetwork(t), mc
}

// bigFile writes size bytes of a deterministic stream to a file, never
// holding them, and returns its path and hash.
func bigFile(t *testing.T, dir, name string, seed uint64, size int64) (string, string) {
	t.Helper()
	path := filepath.Join(dir, name)
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	if _, err := io.Copy(io.MultiWriter(f, h), blobstoretest.Stream(seed, size)); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path, hex.EncodeToString(h.Sum(nil))
}

func fileSHA256(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// cliRSS runs one bikfed command and returns its output and peak RSS.
func cliRSS(t *testing.T, args ...string) (string, int64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bikfedBin, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("bikfed %s: %v\n%s%s", strings.Join(args, " "), err, errb.String(), out.String())
	}
	ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		t.Fatal("no rusage")
	}
	return out.String(), ru.Maxrss << 10 // Linux reports KiB
}

// peakRSS reads a running process's peak resident set (VmHWM).
func peakRSS(t *testing.T, p *proc) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		t.Fatalf("read %s's status: %v", p.name, err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				t.Fatalf("VmHWM %q: %v", v, err)
			}
			return kb << 10
		}
	}
	t.Fatalf("no VmHWM for %s", p.name)
	return 0
}

// checkRSS asserts that each peak rose less than maxRSSGrowth above the
// process's peak before the transfer (before[what]; none for a command run
// for it), and logs them for the record.
func checkRSS(t *testing.T, peaks, before map[string]int64) {
	t.Helper()
	for what, peak := range peaks {
		growth := peak - before[what]
		t.Logf("peak RSS %-28s %6.1f MiB (%+.1f MiB during the transfer)", what, float64(peak)/(1<<20), float64(growth)/(1<<20))
		if peak <= 0 || growth >= maxRSSGrowth {
			t.Errorf("peak RSS of %s rose %.1f MiB during the transfer, to %.1f MiB; want under %d MiB for a %d MiB attachment",
				what, float64(growth)/(1<<20), float64(peak)/(1<<20), maxRSSGrowth>>20, bigSize>>20)
		}
	}
}

// headBlob asks the hub about a blob with the operator's token.
func headBlob(nw *network, sha string) (*http.Response, error) {
	req, _ := http.NewRequest(http.MethodHead, nw.hubURL+protocol.PathBlobs+sha, nil)
	req.Header.Set("Authorization", "Bearer "+nw.adminToken())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	resp.Body.Close()
	return resp, nil
}

func resourceJSON(t *testing.T, dir, title string) string {
	t.Helper()
	body, _ := json.Marshal(protocol.Resource{Title: title, Description: "Film and handbook for teachers.", Language: "en",
		Languages: []string{"en"}, AgeMin: 10, AgeMax: 14, Audiences: []string{"teachers"}, Topics: []string{"media-literacy"}, Type: "video"})
	path := filepath.Join(dir, strings.ReplaceAll(title, " ", "-")+".json")
	if err := os.WriteFile(path, body, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// waitForBlob waits until a node holds the blob in its store.
func waitForBlob(t *testing.T, n *testNode, sha string, timeout time.Duration) {
	t.Helper()
	path := filepath.Join(n.dir, "blobs", sha[0:2], sha[2:4], sha)
	waitFor(t, timeout, n.id+" to fetch the attachment", func() error {
		_, err := os.Stat(path)
		return err
	})
}

// hubLogEvents returns the hub's JSON log records with message msg.
func hubLogEvents(t *testing.T, nw *network, msg string) []map[string]any {
	t.Helper()
	f, err := os.Open(filepath.Join(nw.dir, "hub.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []map[string]any
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var rec map[string]any
		if json.Unmarshal(sc.Bytes(), &rec) == nil && rec["msg"] == msg {
			out = append(out, rec)
		}
	}
	return out
}

func logInt(rec map[string]any, key string) int64 {
	f, _ := rec[key].(float64)
	return int64(f)
}

// TestE2E_LargeAttachment: a node publishes a resource with a 200 MB
// attachment; the hub stores it in MinIO, another node receives the
// resource and the byte-identical file, and no process's memory comes near
// the file's size.
func TestE2E_LargeAttachment(t *testing.T) {
	nw, mc := s3Network(t)
	be := nw.addNode("be", fastSync...)
	fi := nw.addNode("fi", append(fastSync, "--blob-fetch-interval", "200ms")...)
	nw.startNode(be)
	nw.startNode(fi)
	path, sha := bigFile(t, t.TempDir(), "safer-internet-day.mp4", 200, bigSize)
	before := map[string]int64{"hub (serve)": peakRSS(t, nw.hub), "be (serve, uploading)": peakRSS(t, be.proc), "fi (serve, fetching)": peakRSS(t, fi.proc)}

	start := time.Now()
	out, createRSS := cliRSS(t, "node", "create", "--kind", "resource", "--file", resourceJSON(t, t.TempDir(), "Safer Internet Day film"),
		"--attach", path, "--data", be.dir)
	var ent struct {
		ID    string             `json:"id"`
		Blobs []protocol.BlobRef `json:"blobs"`
	}
	if err := json.Unmarshal([]byte(out), &ent); err != nil || len(ent.Blobs) != 1 {
		t.Fatalf("create: %v\n%s", err, out)
	}
	if b := ent.Blobs[0]; b.SHA256 != sha || b.Size != bigSize || b.Name != "safer-internet-day.mp4" || b.MediaType != "video/mp4" {
		t.Fatalf("attachment %+v", b)
	}
	waitFor(t, 90*time.Second, "the hub to hold the attachment", func() error {
		resp, err := headBlob(nw, sha)
		if err != nil {
			return err
		}
		if resp.StatusCode != http.StatusOK || resp.ContentLength != bigSize {
			return fmt.Errorf("HEAD: %s, %d bytes", resp.Status, resp.ContentLength)
		}
		return nil
	})
	t.Logf("uploaded %d MiB node→hub→MinIO in %v", bigSize>>20, time.Since(start).Round(time.Millisecond))
	oi, err := mc.StatObject(t.Context(), e2eBucket, "blobs/"+sha, minio.StatObjectOptions{})
	if err != nil || oi.Size != bigSize || oi.ContentType != "video/mp4" {
		t.Fatalf("MinIO object: %+v, %v", oi, err)
	}
	// The hub kept no copy of its own.
	if parts, _ := os.ReadDir(filepath.Join(nw.hubDir, "staging")); len(parts) != 0 {
		t.Errorf("hub staging directory holds %d parts after a complete upload", len(parts))
	}

	waitForBlob(t, fi, sha, 90*time.Second)
	t.Logf("fi holds the attachment %v after the create", time.Since(start).Round(time.Millisecond))
	got := filepath.Join(t.TempDir(), "fi.mp4")
	_, getRSS := cliRSS(t, "node", "blob", "get", sha, "--out", got, "--data", fi.dir)
	if h := fileSHA256(t, got); h != sha {
		t.Fatalf("fi's copy hashes to %s, want %s", h, sha)
	}
	waitFor(t, 30*time.Second, "fi to hold the resource", func() error {
		_, err := runCLI(t, nil, "node", "get", ent.ID, "--data", fi.dir)
		return err
	})

	// The public gets it from MinIO directly, by a presigned URL.
	// /files/ answers from the portal's index, which follows within moments.
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	var resp *http.Response
	waitFor(t, 30*time.Second, "the public file", func() error {
		var err error
		if resp, err = client.Get(nw.hubURL + protocol.PathFiles + sha + "/safer-internet-day.mp4"); err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusNotFound {
			return fmt.Errorf("not indexed yet")
		}
		return nil
	})
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("public file: %s", resp.Status)
	}
	req, _ := http.NewRequest(http.MethodGet, resp.Header.Get("Location"), nil)
	req.Header.Set("Range", "bytes=1000-1999")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	part, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	want, _ := io.ReadAll(io.LimitReader(blobstoretest.Stream(200, bigSize), 2000))
	if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(part, want[1000:]) {
		t.Errorf("range of the presigned URL: %s, %d bytes", resp.Status, len(part))
	}

	checkRSS(t, map[string]int64{
		"hub (serve)":              peakRSS(t, nw.hub),
		"be (serve, uploading)":    peakRSS(t, be.proc),
		"fi (serve, fetching)":     peakRSS(t, fi.proc),
		"be (CLI create --attach)": createRSS,
		"fi (CLI blob get)":        getRSS,
	}, before)
}

// TestE2E_UploadResumesAfterHubCrash: the hub is killed in the middle of a
// 200 MB upload; after its restart the node resumes where the hub's staged
// bytes end, and the upload completes without sending them again.
func TestE2E_UploadResumesAfterHubCrash(t *testing.T) {
	nw, mc := s3Network(t)
	// A limited rate gives the test a window to kill the hub in.
	be := nw.addNode("be", append(fastSync, "--blob-upload-rate", "50MiB")...)
	fi := nw.addNode("fi", append(fastSync, "--blob-fetch-interval", "200ms")...)
	nw.startNode(be)
	nw.startNode(fi)
	path, sha := bigFile(t, t.TempDir(), "lesson-plans.zip", 201, bigSize)
	part := filepath.Join(nw.hubDir, "staging", sha+".part")
	before := map[string]int64{"hub before the crash": peakRSS(t, nw.hub), "be (serve, uploading)": peakRSS(t, be.proc), "fi (serve, fetching)": peakRSS(t, fi.proc)}

	_, createRSS := cliRSS(t, "node", "create", "--kind", "resource", "--file", resourceJSON(t, t.TempDir(), "Lesson plans"),
		"--attach", path, "--data", be.dir)
	waitFor(t, 60*time.Second, "the upload to be under way", func() error {
		fi, err := os.Stat(part)
		if err != nil {
			return err
		}
		if fi.Size() < 20<<20 {
			return fmt.Errorf("%d bytes staged", fi.Size())
		}
		return nil
	})
	hubPeak1 := peakRSS(t, nw.hub)
	nw.hub.kill()
	fiStaged, err := os.Stat(part)
	if err != nil {
		t.Fatal(err)
	}
	staged := fiStaged.Size()
	if staged <= 0 || staged >= bigSize {
		t.Fatalf("hub killed with %d bytes staged, want part of %d", staged, bigSize)
	}
	if _, err := mc.StatObject(t.Context(), e2eBucket, "blobs/"+sha, minio.StatObjectOptions{}); err == nil {
		t.Fatal("the blob is in MinIO although its upload was cut")
	}
	t.Logf("hub killed with %d of %d bytes staged", staged, bigSize)

	nw.startHub()
	before["hub after the restart"] = peakRSS(t, nw.hub)
	waitFor(t, 90*time.Second, "the hub to hold the attachment", func() error {
		resp, err := headBlob(nw, sha)
		if err != nil {
			return err
		}
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("HEAD: %s", resp.Status)
		}
		return nil
	})
	// What the restarted hub received: one PUT, from where the staged
	// bytes ended, with the rest.
	var resumed []map[string]any
	for _, rec := range hubLogEvents(t, nw, "blob upload") {
		if rec["sha256"] == sha {
			resumed = append(resumed, rec)
		}
	}
	if len(resumed) == 0 {
		t.Fatal("no blob upload in the hub's log")
	}
	var received int64
	for _, rec := range resumed {
		received += logInt(rec, "received")
		if logInt(rec, "offset") == 0 {
			t.Errorf("after the restart an upload started at offset 0: %v", rec)
		}
	}
	last := resumed[len(resumed)-1]
	if last["complete"] != true || logInt(last, "offset") != staged || logInt(last, "received") != bigSize-staged {
		t.Errorf("completing upload %v: want offset %d and %d bytes received", last, staged, bigSize-staged)
	}
	// The staged bytes plus what came after: nothing sent twice.
	if total := staged + received; total != bigSize {
		t.Errorf("hub received %d bytes in all (%d staged before the crash, %d after), want %d", total, staged, received, bigSize)
	}
	t.Logf("resumed at offset %d; %d bytes received after the restart", logInt(last, "offset"), received)
	oi, err := mc.StatObject(t.Context(), e2eBucket, "blobs/"+sha, minio.StatObjectOptions{})
	if err != nil || oi.Size != bigSize {
		t.Fatalf("MinIO object: %+v, %v", oi, err)
	}
	if _, err := os.Stat(part); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("staged part still there after the upload completed: %v", err)
	}

	waitForBlob(t, fi, sha, 90*time.Second)
	got := filepath.Join(t.TempDir(), "fi.zip")
	mustCLI(t, nil, "node", "blob", "get", sha, "--out", got, "--data", fi.dir)
	if h := fileSHA256(t, got); h != sha {
		t.Fatalf("fi's copy hashes to %s, want %s", h, sha)
	}
	checkRSS(t, map[string]int64{
		"hub before the crash":     hubPeak1,
		"hub after the restart":    peakRSS(t, nw.hub),
		"be (serve, uploading)":    peakRSS(t, be.proc),
		"fi (serve, fetching)":     peakRSS(t, fi.proc),
		"be (CLI create --attach)": createRSS,
	}, before)
}

// rawPut sends one PUT /v1/blobs to the hub.
func rawPut(t *testing.T, nw *network, bearer, sha string, size int64, name string, body []byte) (int, *protocol.Error) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPut, fmt.Sprintf("%s%s%s?size=%d&offset=0", nw.hubURL, protocol.PathBlobs, sha, size), bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+bearer)
	req.Header.Set(protocol.HeaderBlobName, name)
	req.Header.Set("Content-Type", "application/pdf")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var er protocol.ErrorResponse
	json.NewDecoder(resp.Body).Decode(&er)
	return resp.StatusCode, er.Error
}

func smallBlob(seed uint64, size int64) ([]byte, protocol.BlobRef) {
	b, _ := io.ReadAll(blobstoretest.Stream(seed, size))
	sum := sha256.Sum256(b)
	return b, protocol.BlobRef{SHA256: hex.EncodeToString(sum[:]), Size: size, MediaType: "application/pdf", Name: fmt.Sprintf("doc-%d.pdf", seed)}
}

// TestE2E_AttachmentRefusals: every refusal, through real HTTP against the
// real hub process, with its code and a message that says what is wrong.
func TestE2E_AttachmentRefusals(t *testing.T) {
	t.Setenv("BIKFED_MAX_BLOB_SIZE", "1MiB")
	t.Setenv("BIKFED_BLOB_QUOTA", "2MiB")
	nw := newNetwork(t)
	// An enrolled node identity driven from the test, to send what the
	// node itself never would.
	key, err := protocol.GenerateKey("xx")
	if err != nil {
		t.Fatal(err)
	}
	cc := protocol.DefaultClientConfig(nw.hubURL)
	cc.Retries = 0
	enrol, err := protocol.NewClient(cc).Enrol(t.Context(), protocol.EnrolRequest{Node: "xx", Token: nw.register("xx"), KeyID: key.ID, PublicKey: key.Public(), Epoch: "e1"})
	if err != nil {
		t.Fatal(err)
	}
	cc.Credential = enrol.Credential
	xx := protocol.NewClient(cc)

	data, ref := smallBlob(1, 1000)
	t.Run("HashMismatch", func(t *testing.T) {
		other, _ := smallBlob(2, 1000)
		status, pe := rawPut(t, nw, enrol.Credential, ref.SHA256, 1000, ref.Name, other)
		if status != http.StatusUnprocessableEntity || pe == nil || pe.Code != protocol.CodeBlobHashMismatch || !strings.Contains(pe.Message, ref.SHA256) {
			t.Fatalf("PUT of other bytes: %d %+v", status, pe)
		}
		resp, err := headBlob(nw, ref.SHA256)
		if err != nil || resp.StatusCode != http.StatusNotFound || resp.Header.Get(protocol.HeaderUploadOffset) != "" {
			t.Errorf("HEAD after the mismatch: %v %v; want nothing kept", resp, err)
		}
		if parts, _ := os.ReadDir(filepath.Join(nw.hubDir, "staging")); len(parts) != 0 {
			t.Errorf("hub staging holds %d parts after a mismatch", len(parts))
		}
	})
	t.Run("PathTraversalName", func(t *testing.T) {
		status, pe := rawPut(t, nw, enrol.Credential, ref.SHA256, 1000, "..%2F..%2Fhub.key", data)
		if status != http.StatusUnprocessableEntity || pe == nil || pe.Code != protocol.CodeInvalidField || !strings.Contains(pe.Message, protocol.HeaderBlobName) {
			t.Fatalf("PUT named ../../hub.key: %d %+v", status, pe)
		}
		status, _ = rawPut(t, nw, enrol.Credential, "..%2F..%2Fhub.key", 1000, ref.Name, data)
		if status != http.StatusBadRequest {
			t.Errorf("PUT to a traversal hash: %d", status)
		}
		// In a change: refused as an invalid field, the rest applies.
		bad := ref
		bad.Name = "../../hub.key"
		c := &protocol.Change{Protocol: protocol.Version, ID: mustID(t, "xx"), Kind: protocol.KindResource, Owner: "xx", Version: 1, Seq: 1,
			UpdatedAt: time.Now().UTC(), Visibility: protocol.VisibilityPublic, Body: resourceBodyJSON(t), Blobs: []protocol.BlobRef{bad}}
		raw, _ := json.Marshal(c)
		s := protocol.Signed{Change: raw, Sig: make([]byte, 64)}
		res, err := xx.Push(t.Context(), protocol.PushHeader{Node: "xx", Epoch: "e1", FromSeq: 1, ToSeq: 1, HeadSeq: 1}, []protocol.Signed{s})
		if err != nil || len(res.Refused) != 1 || res.Refused[0].Code != protocol.CodeInvalidField || !strings.Contains(res.Refused[0].Reason, "blobs[0].name") {
			t.Errorf("push of a change with a traversal name: %+v, %v", res, err)
		}
	})
	t.Run("Oversized", func(t *testing.T) {
		big, bigRef := smallBlob(3, 1<<20+1)
		status, pe := rawPut(t, nw, enrol.Credential, bigRef.SHA256, bigRef.Size, bigRef.Name, big)
		if status != http.StatusRequestEntityTooLarge || pe == nil || pe.Code != protocol.CodeRecordTooLarge || !strings.Contains(pe.Message, "1048576") {
			t.Fatalf("PUT over max-blob-size: %d %+v", status, pe)
		}
	})
	t.Run("Quota", func(t *testing.T) {
		for seed := uint64(10); seed < 12; seed++ {
			b, r := smallBlob(seed, 900<<10)
			if _, err := xx.UploadBlob(t.Context(), r, bytes.NewReader(b), nil); err != nil {
				t.Fatal(err)
			}
		}
		b, r := smallBlob(12, 900<<10)
		_, err := xx.UploadBlob(t.Context(), r, bytes.NewReader(b), nil)
		var pe *protocol.Error
		if !errors.As(err, &pe) || pe.Code != protocol.CodeQuotaExceeded || !strings.Contains(pe.Message, strconv.Itoa(2*900<<10)) || !strings.Contains(pe.Message, strconv.Itoa(2<<20)) {
			t.Fatalf("upload over the quota: %v; want quota_exceeded with usage and limit", err)
		}
		// The coordination team raises it.
		out := mustCLI(t, nil, "hub", "quota", "xx", "--set", "3MiB", "--data", nw.hubDir)
		if !strings.Contains(out, "of 3MiB (own quota)") {
			t.Errorf("hub quota: %q", out)
		}
		if _, err := xx.UploadBlob(t.Context(), r, bytes.NewReader(b), nil); err != nil {
			t.Errorf("upload after the quota was raised: %v", err)
		}
	})
	t.Run("MissingBlob", func(t *testing.T) {
		_, never := smallBlob(20, 100)
		c := &protocol.Change{Protocol: protocol.Version, ID: mustID(t, "xx"), Kind: protocol.KindResource, Owner: "xx", Version: 1, Seq: 2,
			UpdatedAt: time.Now().UTC(), Visibility: protocol.VisibilityPublic, Body: resourceBodyJSON(t), Blobs: []protocol.BlobRef{never}}
		s, err := key.Sign(c)
		if err != nil {
			t.Fatal(err)
		}
		res, err := xx.Push(t.Context(), protocol.PushHeader{Node: "xx", Epoch: "e1", FromSeq: 2, ToSeq: 2, HeadSeq: 2}, []protocol.Signed{s})
		if err != nil || len(res.Refused) != 1 || res.Refused[0].Code != protocol.CodeBlobMissing {
			t.Errorf("push of a change whose blob was never uploaded: %+v, %v", res, err)
		}
	})

	// Visibility: a node attaches a file to a community post and another to
	// a public resource.
	be := nw.addNode("be", fastSync...)
	nw.startNode(be)
	dir := t.TempDir()
	minutes := filepath.Join(dir, "minutes.pdf")
	guide := filepath.Join(dir, "guide.pdf")
	os.WriteFile(minutes, []byte("%PDF-1.7 minutes of the helplines meeting"), 0o600)
	os.WriteFile(guide, []byte("%PDF-1.7 a public guide for parents"), 0o600)
	post, _ := json.Marshal(map[string]any{"space": "helplines", "format": "thread", "title": "Meeting minutes", "text": "Attached.",
		"language": "en", "author": map[string]any{"name": "Helpline team", "sic": "be"}})
	postPath := filepath.Join(dir, "post.json")
	os.WriteFile(postPath, post, 0o600)
	mustCLI(t, nil, "node", "create", "--kind", "post", "--visibility", "community", "--file", postPath, "--attach", minutes, "--data", be.dir)
	mustCLI(t, nil, "node", "create", "--kind", "resource", "--file", resourceJSON(t, dir, "Parents guide"), "--attach", guide, "--data", be.dir)
	minutesSHA, guideSHA := fileSHA256(t, minutes), fileSHA256(t, guide)
	waitFor(t, 30*time.Second, "both entities at the hub", func() error {
		st, err := nw.status()
		if err != nil {
			return err
		}
		for _, n := range st.Nodes {
			if n.Node == "be" && n.Entities == 2 && n.PushLag == 0 {
				return nil
			}
		}
		return fmt.Errorf("not yet")
	})

	t.Run("PrivateAttachment", func(t *testing.T) {
		_, notFound := httpGet(t, nw.hubURL+protocol.PathFiles+strings.Repeat("0", 64)+"/minutes.pdf", "")
		status, body := httpGet(t, nw.hubURL+protocol.PathFiles+minutesSHA+"/minutes.pdf", "")
		if status != http.StatusNotFound || !bytes.Equal(body, notFound) {
			t.Errorf("community attachment without sign-in: %d %s; want the 404 of a hash that does not exist (%s)", status, body, notFound)
		}
		if status, _ := httpGet(t, nw.hubURL+protocol.PathBlobs+minutesSHA, ""); status != http.StatusUnauthorized {
			t.Errorf("sync API without a credential: %d", status)
		}
		if status, body := httpGet(t, nw.hubURL+protocol.PathBlobs+minutesSHA, nw.adminToken()); status != http.StatusOK || !bytes.HasPrefix(body, []byte("%PDF")) {
			t.Errorf("sync API with the operator token: %d", status)
		}
	})
	t.Run("PublicAttachment", func(t *testing.T) {
		// /files/ answers from the portal's index, which follows the
		// push within moments.
		var resp *http.Response
		var b []byte
		waitFor(t, 30*time.Second, "the public attachment", func() error {
			req, _ := http.NewRequest(http.MethodGet, nw.hubURL+protocol.PathFiles+guideSHA+"/guide.pdf", nil)
			req.Header.Set("Range", "bytes=0-7")
			var err error
			if resp, err = http.DefaultClient.Do(req); err != nil {
				return err
			}
			b, _ = io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusNotFound {
				return fmt.Errorf("not indexed yet: %s", resp.Status)
			}
			return nil
		})
		if resp.StatusCode != http.StatusPartialContent || string(b) != "%PDF-1.7" || resp.Header.Get("Content-Type") != "application/pdf" ||
			resp.Header.Get("ETag") != `"`+guideSHA+`"` {
			t.Errorf("public attachment: %s %q %v", resp.Status, b, resp.Header)
		}
	})
}

func mustID(t *testing.T, owner string) string {
	t.Helper()
	id, err := protocol.NewEntityID(owner, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func resourceBodyJSON(t *testing.T) json.RawMessage {
	t.Helper()
	b, err := json.Marshal(protocol.Resource{Title: "A guide", Language: "en", Languages: []string{"en"},
		Audiences: []string{"parents"}, Topics: []string{"privacy"}, Type: "guide"})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// httpGet does a GET with an optional bearer token.
func httpGet(t *testing.T, url, bearer string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}
