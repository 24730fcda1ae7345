package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/klauspost/compress/gzip"

	"github.com/bikfed/bikfed/internal/account"

	"github.com/bikfed/bikfed/protocol"
)

// maxEntityBody limits one create or update request: a change's body plus room
// for the envelope fields and pretty-printing.
const maxEntityBody = 2 * protocol.MaxChangeBytes

// Admin API routes, under the bearer admin token.
const (
	PathAdminEntities = "/admin/v1/entities"
	PathAdminImport   = "/admin/v1/import"
	PathAdminStatus   = "/admin/v1/status"
	PathAdminSync     = "/admin/v1/sync"
	PathAdminVerify   = "/admin/v1/verify"
	PathHealth        = "/healthz"
)

// APIError is the error body of the admin API: {"error": {...}}.
type APIError struct {
	Code    protocol.Code         `json:"code"`
	Message string                `json:"message"`
	Record  string                `json:"record,omitempty"`
	Fields  []protocol.FieldError `json:"fields,omitempty"`
}

// EntityList is the body of GET /admin/v1/entities. Next is the id to pass as
// after= for the next page, empty on the last page.
type EntityList struct {
	Entities []Entity `json:"entities"`
	Next     string   `json:"next,omitempty"`
}

// SetWorkspace serves h, the web workspace of the node's people, at every
// path the admin API does not use. Call it before Run.
func (n *Node) SetWorkspace(h http.Handler) { n.workspace.Store(h) }

// SetListenAddr tells the node the address it is about to serve on, so
// that PublicURL is right before Run starts.
func (n *Node) SetListenAddr(addr string) { n.listenAddr.Store(addr) }

// Handler returns the admin HTTP API, and the workspace set with
// SetWorkspace.
func (n *Node) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+PathHealth, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"ok": true, "node": n.ident.Node})
	})
	n.mountOps(mux) // /readyz, /metrics (metrics.go)
	mux.HandleFunc("POST "+PathAdminEntities, n.auth(n.handleCreate))
	mux.HandleFunc("GET "+PathAdminEntities, n.auth(n.handleList))
	mux.HandleFunc("GET "+PathAdminEntities+"/{id}", n.auth(n.handleGet))
	mux.HandleFunc("PUT "+PathAdminEntities+"/{id}", n.auth(n.handleUpdate))
	mux.HandleFunc("DELETE "+PathAdminEntities+"/{id}", n.auth(n.handleDelete))
	mux.HandleFunc("POST "+PathAdminImport, n.auth(n.handleImport))
	mux.HandleFunc("GET "+PathAdminStatus, n.auth(n.handleStatus))
	mux.HandleFunc("POST "+PathAdminSync, n.auth(n.handleSync))
	mux.HandleFunc("GET "+PathAdminVerify, n.auth(n.handleVerify))
	n.blobRoutes(mux)
	n.mountMembers(mux) // /admin/v1/members (members.go)
	notFound := func(w http.ResponseWriter, r *http.Request) {
		writeAPIError(w, http.StatusNotFound, APIError{Code: protocol.CodeNotFound, Message: "no such endpoint"})
	}
	mux.HandleFunc("/admin/", notFound)
	mux.HandleFunc("/v1/", notFound)
	// Everything else is the workspace's, for the node's people.
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if ws, ok := n.workspace.Load().(http.Handler); ok && ws != nil {
			ws.ServeHTTP(w, r)
			return
		}
		notFound(w, r)
	})
	return mux
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

func writeAPIError(w http.ResponseWriter, status int, e APIError) {
	writeJSON(w, status, map[string]APIError{"error": e})
}

// writeError maps an error to its code and status; unexpected errors are
// logged and reported without detail.
func (n *Node) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var (
		ve *protocol.ValidationError
		pe *protocol.Error
		me *http.MaxBytesError
	)
	switch {
	case errors.As(err, &ve):
		writeAPIError(w, protocol.HTTPStatus(ve.Code), APIError{Code: ve.Code, Message: ve.Error(), Fields: ve.Fields})
	case errors.As(err, &pe):
		writeAPIError(w, protocol.HTTPStatus(pe.Code), APIError{Code: pe.Code, Message: pe.Message, Record: pe.Record})
	case errors.As(err, &me):
		writeAPIError(w, http.StatusRequestEntityTooLarge, APIError{Code: protocol.CodeRecordTooLarge,
			Message: fmt.Sprintf("request body is larger than %d bytes", me.Limit)})
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		writeAPIError(w, http.StatusServiceUnavailable, APIError{Code: protocol.CodeUnavailable, Message: "request cancelled"})
	default:
		n.log.Error("admin api", "method", r.Method, "path", r.URL.Path, "err", err)
		writeAPIError(w, http.StatusInternalServerError, APIError{Code: protocol.CodeInternal, Message: "internal error; see the node's log"})
	}
}

// readRecord reads a size-limited create or update body.
func readRecord(w http.ResponseWriter, r *http.Request) (Record, error) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxEntityBody))
	if err != nil {
		var me *http.MaxBytesError
		if errors.As(err, &me) {
			return Record{}, err
		}
		return Record{}, protocol.Errorf(protocol.CodeBadRequest, "read body: %v", err)
	}
	rec, err := DecodeRecord(b)
	if err == nil && rec.Ref != "" {
		// A ref matches records across runs of an import; a single create
		// names its entity by id instead.
		return Record{}, fieldError("ref", "only import records have a ref; use id")
	}
	return rec, err
}

func (n *Node) handleCreate(w http.ResponseWriter, r *http.Request) {
	rec, err := readRecord(w, r)
	if err != nil {
		n.writeError(w, r, err)
		return
	}
	if rec.ID != "" {
		n.writeError(w, r, fieldError("id", "ids are given by the node; update with PUT %s/{id}", PathAdminEntities))
		return
	}
	var e Entity
	if v := r.URL.Query().Get("member"); v != "" {
		e, err = n.createAsMember(r, v, rec.Draft)
	} else {
		e, err = n.Create(r.Context(), rec.Draft)
	}
	if err != nil {
		n.writeError(w, r, err)
		return
	}
	w.Header().Set("Location", PathAdminEntities+"/"+e.ID)
	writeJSON(w, http.StatusCreated, e)
}

// createAsMember is POST /admin/v1/entities?member=ID: a post, comment or
// flag written as member ID (CreateAs), for scripts that bring a member's
// writing over from elsewhere. Only the admin token may: a signed-in
// member writes as themselves in the workspace.
func (n *Node) createAsMember(r *http.Request, v string, d Draft) (Entity, error) {
	if apiCaller(r).member != nil {
		return Entity{}, protocol.Errorf(protocol.CodeForbidden, "only the admin token writes as another member")
	}
	id, err := strconv.ParseInt(v, 10, 64)
	if err != nil || id <= 0 {
		return Entity{}, protocol.Errorf(protocol.CodeBadRequest, "member=%q is not a member id", v)
	}
	e, err := n.CreateAs(r.Context(), id, d)
	switch {
	case errors.Is(err, account.ErrNotFound):
		return Entity{}, protocol.Errorf(protocol.CodeNotFound, "no member %d", id)
	case errors.Is(err, ErrHeldForApproval):
		return Entity{}, protocol.Errorf(protocol.CodeForbidden, "member %d is a youth member: what they write waits for a coordinator", id)
	case errors.Is(err, ErrSpaceClosed):
		return Entity{}, protocol.Errorf(protocol.CodeForbidden, "member %d may not write there: %v", id, err)
	}
	return e, err
}

func (n *Node) handleUpdate(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	rec, err := readRecord(w, r)
	if err != nil {
		n.writeError(w, r, err)
		return
	}
	if rec.ID != "" && rec.ID != id {
		n.writeError(w, r, fieldError("id", "%q does not match the URL's %q", rec.ID, id))
		return
	}
	e, err := n.Update(r.Context(), id, rec.Draft)
	if err != nil {
		n.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, e)
}

func (n *Node) handleDelete(w http.ResponseWriter, r *http.Request) {
	erase := false
	if v := r.URL.Query().Get("erase"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			n.writeError(w, r, protocol.Errorf(protocol.CodeBadRequest, "erase=%q is not a boolean", v))
			return
		}
		erase = b
	}
	e, err := n.Delete(r.Context(), r.PathValue("id"), erase)
	if err != nil {
		n.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, e)
}

func (n *Node) handleGet(w http.ResponseWriter, r *http.Request) {
	e, err := n.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		n.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, e)
}

func (n *Node) handleList(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := ListFilter{Kind: protocol.Kind(q.Get("kind")), Owner: q.Get("owner"), After: q.Get("after")}
	if f.Kind != "" && !f.Kind.Known() {
		n.writeError(w, r, protocol.Errorf(protocol.CodeUnknownKind, "unknown kind %q", f.Kind))
		return
	}
	if v := q.Get("limit"); v != "" {
		l, err := strconv.Atoi(v)
		if err != nil || l < 1 {
			n.writeError(w, r, protocol.Errorf(protocol.CodeBadRequest, "limit=%q is not a positive number", v))
			return
		}
		f.Limit = l
	}
	es, err := n.List(r.Context(), f)
	if err != nil {
		n.writeError(w, r, err)
		return
	}
	out := EntityList{Entities: es}
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	if len(es) == min(limit, 1000) && len(es) > 0 {
		out.Next = es[len(es)-1].ID
	}
	writeJSON(w, http.StatusOK, out)
}

// limitedReader fails, rather than stopping silently, when a decompressed
// import passes the limit, so a truncated import is never taken for a whole one.
type limitedReader struct {
	r     io.Reader
	left  int64
	limit int64
}

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.left <= 0 {
		return 0, &http.MaxBytesError{Limit: l.limit}
	}
	if int64(len(p)) > l.left {
		p = p[:l.left]
	}
	k, err := l.r.Read(p)
	l.left -= int64(k)
	return k, err
}

func (n *Node) handleImport(w http.ResponseWriter, r *http.Request) {
	limit := n.cfg.MaxImportBytes
	var body io.Reader = http.MaxBytesReader(w, r.Body, limit)
	if strings.EqualFold(r.Header.Get("Content-Encoding"), "gzip") {
		zr, err := gzip.NewReader(body)
		if err != nil {
			n.writeError(w, r, protocol.Errorf(protocol.CodeBadRequest, "gzip: %v", err))
			return
		}
		defer zr.Close()
		body = &limitedReader{r: zr, left: limit, limit: limit}
	}
	res, err := n.Import(r.Context(), body)
	if err != nil {
		n.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

func (n *Node) handleStatus(w http.ResponseWriter, r *http.Request) {
	s, err := n.Status(r.Context())
	if err != nil {
		n.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, s)
}

func (n *Node) handleSync(w http.ResponseWriter, r *http.Request) {
	if err := n.SyncOnce(r.Context(), nil); err != nil {
		// Hub errors are reported as unavailable: passing the hub's own code
		// through (unauthorized, say) would blame the admin token.
		n.writeError(w, r, protocol.Errorf(protocol.CodeUnavailable, "sync with %s: %v", n.ident.HubURL, err))
		return
	}
	n.handleStatus(w, r)
}

func (n *Node) handleVerify(w http.ResponseWriter, r *http.Request) {
	rep, err := n.Verify(r.Context())
	if err != nil {
		var pe *protocol.Error
		if errors.As(err, &pe) || !errors.Is(err, context.Canceled) {
			n.writeError(w, r, protocol.Errorf(protocol.CodeUnavailable, "verify against %s: %v", n.ident.HubURL, err))
			return
		}
		n.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, rep)
}
