package mirror

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/bikfed/bikfed/hub/portal"
	"github.com/bikfed/bikfed/internal/blobstore"
	"github.com/bikfed/bikfed/protocol"
)

// handleFile is GET /files/{sha256}/{name}: the attachment of a public
// entity, when the mirror's index says it is one, answered as the hub
// answers it.
func (m *Mirror) handleFile(w http.ResponseWriter, r *http.Request) {
	sha, name := r.PathValue("sha256"), r.PathValue("name")
	if blobstore.ValidHash(sha) != nil || protocol.ValidBlobName(name) != nil {
		notFound(w)
		return
	}
	mediaType, ok, err := m.portal.PublicFile(r.Context(), sha, name)
	if err != nil {
		m.serverError(w, fmt.Errorf("look up file %s: %w", sha, err))
		return
	}
	if !ok {
		notFound(w)
		return
	}
	store := blobstore.Store(m.cache)
	if m.store != nil {
		store = m.store
		if m.cfg.Blobs.Redirect && !portal.IsCaptions(mediaType) {
			u, err := m.store.PresignGet(r.Context(), sha, name, m.cfg.Blobs.PresignExpiry)
			switch {
			case err == nil:
				w.Header().Set("Cache-Control", "no-store")
				http.Redirect(w, r, u, http.StatusFound)
				return
			case !errors.Is(err, blobstore.ErrNotSupported):
				m.serverError(w, err)
				return
			}
		}
	} else if err := m.fillCache(r.Context(), sha, name, mediaType); err != nil {
		m.serverError(w, err)
		return
	}
	rc, info, err := store.Open(r.Context(), sha)
	if errors.Is(err, blobstore.ErrNotFound) {
		m.log.Error("attachment missing from the store", "sha256", sha)
		notFound(w)
		return
	}
	if err != nil {
		m.serverError(w, err)
		return
	}
	defer rc.Close()
	w.Header().Set("Cache-Control", "public, max-age=300")
	portal.ServeAttachment(w, r, rc, info.ModTime, sha, mediaType, name)
}

// fillCache fetches an attachment from the hub's public files once. The
// cache checks its hash as it stores it, so a wrong byte is never served.
func (m *Mirror) fillCache(ctx context.Context, sha, name, mediaType string) error {
	if _, err := m.cache.Stat(ctx, sha); err == nil {
		return nil
	}
	u := m.hubURL.JoinPath(protocol.PathFiles, sha, url.PathEscape(name))
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return err
	}
	resp, err := m.fetch.Do(req)
	if err != nil {
		return fmt.Errorf("fetch attachment %s from the hub: %w", sha, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("fetch attachment %s from the hub: %s", sha, resp.Status)
	}
	if resp.ContentLength < 0 {
		return fmt.Errorf("fetch attachment %s from the hub: no length", sha)
	}
	if err := m.cache.Put(ctx, sha, resp.ContentLength, mediaType, resp.Body); err != nil {
		return fmt.Errorf("cache attachment %s: %w", sha, err)
	}
	return nil
}

// notFound answers as the hub does for every attachment the public may
// not have: guessing gives nothing away.
func notFound(w http.ResponseWriter) {
	writeError(w, protocol.Errorf(protocol.CodeNotFound, "no such file"))
}

func (m *Mirror) serverError(w http.ResponseWriter, err error) {
	m.log.Error("serve a file", "err", err)
	writeError(w, &protocol.Error{Code: protocol.CodeInternal, Message: "internal error"})
}

func writeError(w http.ResponseWriter, pe *protocol.Error) {
	b, _ := json.Marshal(protocol.ErrorResponse{Error: pe})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(protocol.HTTPStatus(pe.Code))
	w.Write(append(b, '\n'))
}
