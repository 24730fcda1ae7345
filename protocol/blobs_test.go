package protocol

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"
)

// blobServer is an in-memory hub blob endpoint: it keeps what each PUT
// delivers, so a broken transfer leaves a partial upload to resume.
type blobServer struct {
	mu    sync.Mutex
	sha   string
	size  int64
	have  []byte
	done  bool
	cutAt int64 // the next PUT drops the connection after this many bytes
	puts  []int64
	stall bool // PUT never reads the body; GET stops half-way
	// release ends stalled handlers: a server that never reads a body does
	// not notice the client leaving.
	release chan struct{}
	status  int // PUT answers this status (with an error body) instead
}

func (s *blobServer) handler(t *testing.T) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("HEAD "+PathBlobs+"{sha}", func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.done {
			w.Header().Set("Content-Length", strconv.Itoa(len(s.have)))
			return
		}
		if len(s.have) > 0 {
			w.Header().Set(HeaderUploadOffset, strconv.Itoa(len(s.have)))
		}
		w.WriteHeader(http.StatusNotFound)
	})
	mux.HandleFunc("PUT "+PathBlobs+"{sha}", func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		stall, status, cut := s.stall, s.status, s.cutAt
		s.cutAt = 0
		off, _ := strconv.ParseInt(r.URL.Query().Get("offset"), 10, 64)
		s.puts = append(s.puts, off)
		if off != int64(len(s.have)) {
			s.mu.Unlock()
			w.Header().Set(HeaderUploadOffset, strconv.Itoa(len(s.have)))
			writeErr(w, Errorf(CodeConflict, "at %d", len(s.have)))
			return
		}
		s.mu.Unlock()
		if stall {
			select {
			case <-r.Context().Done():
			case <-s.release:
			}
			return
		}
		if status != 0 {
			writeErr(w, &Error{Code: CodeForStatus(status), Message: "refused for the test"})
			return
		}
		var body io.Reader = r.Body
		if cut > 0 {
			body = io.LimitReader(r.Body, cut)
		}
		b, _ := io.ReadAll(body)
		s.mu.Lock()
		s.have = append(s.have, b...)
		complete := int64(len(s.have)) == s.size
		if complete {
			sum := sha256.Sum256(s.have)
			s.done = hex.EncodeToString(sum[:]) == s.sha
		}
		n := len(s.have)
		s.mu.Unlock()
		if cut > 0 {
			// Drop the connection, as a hub that dies mid-upload would.
			hj, _ := w.(http.Hijacker)
			conn, _, err := hj.Hijack()
			if err == nil {
				conn.Close()
			}
			return
		}
		json.NewEncoder(w).Encode(BlobUpload{SHA256: s.sha, Size: s.size, Offset: int64(n), Complete: complete})
	})
	mux.HandleFunc("GET "+PathBlobs+"{sha}", func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		data, stall := s.have, s.stall
		s.mu.Unlock()
		w.Header().Set("Content-Type", "video/mp4")
		w.Header().Set("Content-Length", strconv.Itoa(len(data)))
		w.Write(data[:len(data)/2])
		if stall {
			w.(http.Flusher).Flush()
			select {
			case <-r.Context().Done():
			case <-s.release:
			}
			return
		}
		w.Write(data[len(data)/2:])
	})
	return mux
}

func writeErr(w http.ResponseWriter, e *Error) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(HTTPStatus(e.Code))
	json.NewEncoder(w).Encode(ErrorResponse{Error: e})
}

func blobFixture(t *testing.T, size int) ([]byte, BlobRef, *blobServer, *Client) {
	t.Helper()
	data := make([]byte, size)
	for i := range data {
		data[i] = byte(i * 7)
	}
	sum := sha256.Sum256(data)
	ref := BlobRef{SHA256: hex.EncodeToString(sum[:]), Size: int64(size), MediaType: "video/mp4", Name: "clip.mp4"}
	s := &blobServer{sha: ref.SHA256, size: ref.Size, release: make(chan struct{})}
	srv := httptest.NewServer(s.handler(t))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(s.release) }) // runs first
	cfg := DefaultClientConfig(srv.URL)
	cfg.Credential = "be.secret"
	cfg.RetryWait, cfg.RetryMaxWait = time.Millisecond, 5*time.Millisecond
	return data, ref, s, NewClient(cfg)
}

func TestClient_UploadBlobResumes(t *testing.T) {
	data, ref, s, c := blobFixture(t, 1<<20)
	s.cutAt = 300 << 10
	res, err := c.UploadBlob(t.Context(), ref, bytes.NewReader(data), nil)
	if err != nil {
		t.Fatal(err)
	}
	if !s.done || !bytes.Equal(s.have, data) {
		t.Fatal("the server does not hold the blob")
	}
	if len(s.puts) != 2 || s.puts[1] != 300<<10 || res.Attempts != 2 || res.Resumed != 0 {
		t.Errorf("PUTs at %v, result %+v: want a second PUT resuming at %d", s.puts, res, 300<<10)
	}
	// Sent counts what left the client, the broken attempt included; the
	// server got each byte once.
	if res.Sent < ref.Size {
		t.Errorf("sent %d bytes, want at least %d", res.Sent, ref.Size)
	}
	again, err := c.UploadBlob(t.Context(), ref, bytes.NewReader(data), nil)
	if err != nil || !again.Skipped || again.Sent != 0 {
		t.Errorf("upload of a held blob = %+v, %v; want skipped", again, err)
	}
}

func TestClient_UploadBlobStartsAtHubOffset(t *testing.T) {
	data, ref, s, c := blobFixture(t, 100<<10)
	s.have = append([]byte(nil), data[:40<<10]...)
	res, err := c.UploadBlob(t.Context(), ref, bytes.NewReader(data), nil)
	if err != nil || res.Resumed != 40<<10 || res.Sent != ref.Size-40<<10 || !s.done {
		t.Errorf("upload after a partial one = %+v, %v; want resumed at %d", res, err, 40<<10)
	}
}

func TestClient_UploadBlobRefused(t *testing.T) {
	data, ref, s, c := blobFixture(t, 1000)
	s.status = http.StatusRequestEntityTooLarge
	_, err := c.UploadBlob(t.Context(), ref, bytes.NewReader(data), nil)
	if !errors.Is(err, ErrBatchTooLarge) || len(s.puts) != 1 {
		t.Errorf("refused upload = %v after %d PUTs; want the refusal at once", err, len(s.puts))
	}
}

func TestClient_BlobStall(t *testing.T) {
	data, ref, s, c := blobFixture(t, 1<<20)
	c.cfg.Timeout = 200 * time.Millisecond
	c.cfg.Retries = 0
	s.stall = true
	start := time.Now()
	if _, err := c.PutBlob(t.Context(), ref, 0, bytes.NewReader(data)); err == nil {
		t.Fatal("PUT to a hub that never reads succeeded")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("stalled PUT gave up after %v", d)
	}
	s.have = data
	body, size, mt, err := c.GetBlob(t.Context(), ref.SHA256)
	if err != nil || size != ref.Size || mt != "video/mp4" {
		t.Fatalf("GetBlob = %d, %q, %v", size, mt, err)
	}
	defer body.Close()
	start = time.Now()
	if n, err := io.Copy(io.Discard, body); err == nil || n != ref.Size/2 {
		t.Errorf("stalled GET read %d bytes, %v; want half and an error", n, err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("stalled GET gave up after %v", d)
	}
}
