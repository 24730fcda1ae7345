package hub

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"

	"github.com/bikfed/bikfed/protocol"
)

// maxJSONBody caps the JSON request bodies of enrolment and the admin API.
const maxJSONBody = 1 << 20

// Handler returns the hub's HTTP API: the sync API (/v1), the operator's
// admin API (/admin/v1), public files and /healthz, and the public portal,
// which serves the public JSON API (/api/v1) from its index.
func (h *Hub) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "ok")
	})
	h.mountOps(mux) // /readyz, /metrics, /console/ (netstatus.go)

	mux.HandleFunc("POST "+protocol.PathEnrol, h.handleEnrol)
	mux.HandleFunc("POST "+protocol.PathPush, h.handlePush)
	mux.HandleFunc("GET "+protocol.PathChanges, h.handleChanges)
	mux.HandleFunc("GET "+protocol.PathKeys, h.handleKeys)
	mux.HandleFunc("GET "+protocol.PathManifest, h.handleManifest)
	mux.HandleFunc("GET "+protocol.PathStatus, h.handleStatus)

	mux.HandleFunc("POST /admin/v1/nodes", h.operator(h.handleAdminRegister))
	mux.HandleFunc("POST /admin/v1/nodes/{id}/{action}", h.operator(h.handleNodeAction))
	mux.HandleFunc("POST /admin/v1/entities", h.operator(h.handleAdminPublish))
	mux.HandleFunc("PUT /admin/v1/entities/{id}", h.operator(h.handleAdminUpdate))
	mux.HandleFunc("DELETE /admin/v1/entities/{id}", h.operator(h.handleAdminDelete))
	h.mountMembers(mux)   // /admin/v1/members (members.go)
	h.bulletinRoutes(mux) // /admin/v1/bulletins (bulletinsend.go)

	h.blobRoutes(mux)
	h.erasureRoutes(mux)
	h.mirrorRoutes(mux)
	if h.portal != nil {
		mux.Handle("/", h.portal.Handler()) // the public portal: everything not above
	}
	return withBaseHeaders(h.withHubTime(mux))
}

// withHubTime tells every answer the hub's clock, so a node can schedule
// publication by the network's time rather than by its own (docs/protocol.md
// §18).
func (h *Hub) withHubTime(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(protocol.HeaderHubTime, protocol.FormatHubTime(h.now()))
		next.ServeHTTP(w, r)
	})
}

// operator wraps a handler that only the coordination team may call.
func (h *Hub) operator(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p, err := h.authenticate(r.Header.Get("Authorization"))
		if err != nil {
			h.writeError(w, r, err)
			return
		}
		if !p.operator {
			h.writeError(w, r, protocol.Errorf(protocol.CodeForbidden, "operator only"))
			return
		}
		// The coordination team's actions are few and matter: each is logged.
		h.log.Info("admin request", "method", r.Method, "path", r.URL.Path)
		next(w, r)
	}
}

// handleEnrol is POST /v1/enrol.
func (h *Hub) handleEnrol(w http.ResponseWriter, r *http.Request) {
	var req protocol.EnrolRequest
	if err := readJSON(w, r, &req); err != nil {
		h.writeError(w, r, err)
		return
	}
	res, err := h.enrol(r.Context(), req)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

// handleKeys is GET /v1/keys, public: anyone may verify any change.
func (h *Hub) handleKeys(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, h.KeyDirectory())
}

// KeyDirectory returns every key of the directory, the hub's included, by id.
func (h *Hub) KeyDirectory() *protocol.KeyDirectory {
	m := *h.keys.Load()
	d := &protocol.KeyDirectory{Keys: make([]protocol.KeyInfo, 0, len(m))}
	for _, k := range m {
		d.Keys = append(d.Keys, k)
	}
	slices.SortFunc(d.Keys, func(a, b protocol.KeyInfo) int { return strings.Compare(a.KeyID, b.KeyID) })
	return d
}

// readJSON decodes a small JSON request body strictly.
func readJSON(w http.ResponseWriter, r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxJSONBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return protocol.Errorf(protocol.CodeBadRequest, "request body larger than %d bytes", mbe.Limit)
		}
		return protocol.Errorf(protocol.CodeMalformedJSON, "decode request: %v", err)
	}
	if dec.More() {
		return protocol.Errorf(protocol.CodeMalformedJSON, "decode request: trailing data")
	}
	return nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, `{"error":{"code":"internal","message":"encode response"}}`, http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

// writeError writes err as the protocol's error body with the status the
// code maps to. Anything that is not a protocol error is logged and answered
// as a bare internal error, so no internal detail reaches a client.
func (h *Hub) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var pe *protocol.Error
	var ve *protocol.ValidationError
	switch {
	case errors.As(err, &ve):
		pe = ve.AsError()
	case errors.As(err, &pe):
	default:
		if r.Context().Err() == nil {
			h.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		}
		pe = &protocol.Error{Code: protocol.CodeInternal, Message: "internal error"}
	}
	writeJSON(w, protocol.HTTPStatus(pe.Code), protocol.ErrorResponse{Error: pe})
}
