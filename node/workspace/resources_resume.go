package workspace

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/bikfed/bikfed/internal/web"
	"github.com/bikfed/bikfed/protocol"
)

// Resumable uploads. A large file goes in pieces: the script starts an
// upload (its name, size and type), then sends pieces at offsets, each
// appended to a file under Config.UploadDir as it arrives. A piece cut off
// by a dropped connection keeps the bytes that arrived; the script asks
// where the upload stands and goes on from there. The last piece attaches
// the whole file to the blob store and the answer is the reference the
// form carries, as for a file sent in one go.
const (
	// resumeChunk is the size of the pieces the script sends.
	resumeChunk = 8 << 20
	// resumeChunkMax bounds one piece's request.
	resumeChunkMax = 64 << 20
	// resumeMaxAge is how long an upload nobody finishes is kept.
	resumeMaxAge = 24 * time.Hour
	// resumeOpen bounds the unfinished uploads of one member, so that
	// abandoned ones cannot fill the disk.
	resumeOpen = 8
)

var resumeIDPattern = regexp.MustCompile(`^[0-9a-f]{32}$`)

// resumeMeta is what an upload was started with.
type resumeMeta struct {
	Name    string    `json:"name"`
	Size    int64     `json:"size"`
	Type    string    `json:"type"`
	Member  int64     `json:"member"`
	Created time.Time `json:"created"`
}

// resumeLocks keeps two requests from appending to one upload at once.
type resumeLocks struct{ m sync.Map }

func (l *resumeLocks) tryLock(id string) (unlock func(), ok bool) {
	v, _ := l.m.LoadOrStore(id, &sync.Mutex{})
	mu := v.(*sync.Mutex)
	if !mu.TryLock() {
		return nil, false
	}
	return mu.Unlock, true
}

func (ws *Workspace) resumePath(id, ext string) string {
	return filepath.Join(ws.cfg.UploadDir, id+ext)
}

// resumable serves the pieces of a resumable upload: ?start=1 with name,
// size and type begins one; ?upload=ID alone says how far it is;
// ?upload=ID&offset=N with a multipart part "chunk" adds a piece.
func (ws *Workspace) resumable(w http.ResponseWriter, r *http.Request, answer func(int, any)) {
	p := web.Printer(r)
	m, _ := web.Member(r)
	q := r.URL.Query()
	refuse := func(status int, msg string) { answer(status, map[string]string{"error": msg}) }
	if q.Get("start") != "" {
		if ws.sweepUploads(m.ID) >= resumeOpen {
			refuse(http.StatusTooManyRequests, p.T("resources.error.uploads_open"))
			return
		}
		name, mt := q.Get("name"), q.Get("type")
		size, err := strconv.ParseInt(q.Get("size"), 10, 64)
		switch {
		case protocol.ValidBlobName(name) != nil:
			refuse(http.StatusUnprocessableEntity, p.T("resources.error.file_name", "name", name))
			return
		case err != nil || size <= 0:
			refuse(http.StatusBadRequest, p.T("resources.error.upload"))
			return
		case size > ws.maxUpload:
			refuse(http.StatusUnprocessableEntity, p.T("resources.error.file_size", "name", name, "limit", humanBytes(ws.maxUpload)))
			return
		}
		var b [16]byte
		rand.Read(b[:])
		id := hex.EncodeToString(b[:])
		meta, _ := json.Marshal(resumeMeta{Name: name, Size: size, Type: mt, Member: m.ID, Created: time.Now().UTC()})
		if err := os.MkdirAll(ws.cfg.UploadDir, 0o700); err != nil {
			ws.fail(w, r, "start upload", err)
			return
		}
		if err := os.WriteFile(ws.resumePath(id, ".part"), nil, 0o600); err != nil {
			ws.fail(w, r, "start upload", err)
			return
		}
		if err := os.WriteFile(ws.resumePath(id, ".json"), meta, 0o600); err != nil {
			ws.fail(w, r, "start upload", err)
			return
		}
		answer(http.StatusOK, map[string]any{"upload": id, "offset": 0, "chunk": resumeChunk})
		return
	}
	id := q.Get("upload")
	var meta resumeMeta
	raw, err := os.ReadFile(ws.resumePath(id, ".json"))
	if !resumeIDPattern.MatchString(id) || err != nil || json.Unmarshal(raw, &meta) != nil || meta.Member != m.ID {
		// Gone, never there, or another member's: the script starts over.
		refuse(http.StatusNotFound, p.T("resources.error.upload"))
		return
	}
	unlock, ok := ws.resumeLocks.tryLock(id)
	if !ok {
		refuse(http.StatusConflict, p.T("resources.error.upload"))
		return
	}
	defer unlock()
	part := ws.resumePath(id, ".part")
	st, err := os.Stat(part)
	if err != nil {
		refuse(http.StatusNotFound, p.T("resources.error.upload"))
		return
	}
	have := st.Size()
	if q.Get("offset") == "" {
		answer(http.StatusOK, map[string]any{"offset": have})
		return
	}
	if off, err := strconv.ParseInt(q.Get("offset"), 10, 64); err != nil || off != have {
		answer(http.StatusConflict, map[string]any{"offset": have})
		return
	}
	got, err := ws.appendChunk(r, part, meta.Size-have)
	have += got
	if errors.Is(err, errTooLarge) {
		ws.dropUpload(id)
		refuse(http.StatusUnprocessableEntity, p.T("resources.error.file_failed", "name", meta.Name))
		return
	}
	if err != nil {
		if r.Context().Err() == nil {
			ws.log.Info("upload piece cut short", "upload", id, "offset", have, "err", err)
		}
		answer(http.StatusBadRequest, map[string]any{"offset": have})
		return
	}
	if have < meta.Size {
		answer(http.StatusOK, map[string]any{"offset": have})
		return
	}
	f, err := os.Open(part)
	if err != nil {
		ws.fail(w, r, "finish upload", err)
		return
	}
	up := ws.attach(r, p, f, meta.Name, meta.Type)
	f.Close()
	ws.dropUpload(id)
	if up.err != "" {
		refuse(http.StatusUnprocessableEntity, up.err)
		return
	}
	answer(http.StatusCreated, uploadAnswer(up))
}

// appendChunk appends the request's "chunk" part to the file at path as
// it arrives, at most left bytes, and returns how many it wrote.
func (ws *Workspace) appendChunk(r *http.Request, path string, left int64) (int64, error) {
	mr, err := r.MultipartReader()
	if err != nil {
		return 0, err
	}
	var part interface {
		io.Reader
		FormName() string
	}
	for {
		pt, err := mr.NextPart()
		if err != nil {
			return 0, fmt.Errorf("no piece in the request: %w", err)
		}
		if pt.FormName() == "chunk" {
			part = pt
			break
		}
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return 0, err
	}
	n, err := io.Copy(f, io.LimitReader(part, left+1))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if n > left {
		return n, errTooLarge
	}
	return n, err
}

func (ws *Workspace) dropUpload(id string) {
	os.Remove(ws.resumePath(id, ".part"))
	os.Remove(ws.resumePath(id, ".json"))
	ws.resumeLocks.m.Delete(id)
}

// sweepUploads removes the uploads nobody finished in time and returns
// how many of member's are left.
func (ws *Workspace) sweepUploads(member int64) int {
	entries, err := os.ReadDir(ws.cfg.UploadDir)
	if err != nil {
		return 0
	}
	open := 0
	for _, e := range entries {
		id, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok || !resumeIDPattern.MatchString(id) {
			continue
		}
		// The piece file changes with every piece: an upload still going
		// on is never swept.
		info, err := os.Stat(ws.resumePath(id, ".part"))
		if err != nil {
			info, err = e.Info()
		}
		if err == nil && time.Since(info.ModTime()) > resumeMaxAge {
			ws.dropUpload(id)
			continue
		}
		var meta resumeMeta
		if raw, err := os.ReadFile(ws.resumePath(id, ".json")); err == nil && json.Unmarshal(raw, &meta) == nil && meta.Member == member {
			open++
		}
	}
	return open
}
