package workspace

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/bikfed/bikfed/internal/blobstore"
	"github.com/bikfed/bikfed/protocol"
)

// Community attachments are served at /files/<sha256>/<name>, the one
// address internal/markup lets a post's images come from, to members who
// read a post or comment that carries them.

// pathFiles is where the workspace serves community attachments.
const pathFiles = "/files/"

func (ws *Workspace) mountCommunityFiles() {
	ws.handle("GET "+pathFiles+"{sha256}/{name}", ws.communityFile)
}

// fileHref is an attachment's address.
func fileHref(b protocol.BlobRef) string {
	return pathFiles + b.SHA256 + "/" + url.PathEscape(b.Name)
}

// inlineTypes are shown in the page; anything else is downloaded, so no
// file of a member's runs as a document of the workspace's origin.
var inlineTypes = []string{"image/png", "image/jpeg", "image/gif", "image/webp"}

// communityFile serves an attachment of a post or comment the member may
// read; any other file is not found, whether or not the node holds it.
func (ws *Workspace) communityFile(w http.ResponseWriter, r *http.Request) {
	v := ws.viewerOf(r)
	sha := r.PathValue("sha256")
	if blobstore.ValidHash(sha) != nil {
		ws.site.NotFound(w, r)
		return
	}
	items, err := ws.node.CommunityAttachment(r.Context(), sha)
	if err != nil {
		ws.fail(w, r, "find attachment", err)
		return
	}
	allowed := false
	for _, it := range items {
		if !slices.Contains(v.spaces, it.Space) {
			continue
		}
		show, err := ws.mayShow(r.Context(), v, it.ID, it.Hidden)
		if err != nil {
			ws.fail(w, r, "find attachment", err)
			return
		}
		if show {
			allowed = true
			break
		}
	}
	if !allowed {
		ws.site.NotFound(w, r)
		return
	}
	rc, info, err := ws.node.OpenBlob(r.Context(), sha)
	var pe *protocol.Error
	if errors.As(err, &pe) && pe.Code == protocol.CodeNotFound {
		ws.site.NotFound(w, r)
		return
	}
	if err != nil {
		ws.fail(w, r, "open attachment", err)
		return
	}
	defer rc.Close()
	h := w.Header()
	h.Set("Content-Type", info.MediaType)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	h.Set("Cache-Control", "private, max-age=3600")
	h.Set("ETag", `"`+sha+`"`)
	mt, _, _ := strings.Cut(info.MediaType, ";")
	if !slices.Contains(inlineTypes, strings.TrimSpace(strings.ToLower(mt))) {
		h.Set("Content-Disposition", "attachment")
	}
	http.ServeContent(w, r, "", info.ModTime, rc)
}
