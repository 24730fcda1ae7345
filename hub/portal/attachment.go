package portal

import (
	"io"
	"mime"
	"net/http"
	"time"
)

// The hub and every mirror answer /files/{sha256}/{name} alike: these are
// the headers and the body of an attachment, wherever its bytes come from.

// IsCaptions reports whether mediaType is a captions file (WebVTT). A
// video's <track> loads only from the page's own origin, so captions are
// never redirected to the object store.
func IsCaptions(mediaType string) bool {
	mt, _, err := mime.ParseMediaType(mediaType)
	return err == nil && mt == "text/vtt"
}

// inlineTypes are shown in the browser; everything else is downloaded.
var inlineTypes = map[string]bool{
	"application/pdf": true, "image/png": true, "image/jpeg": true, "image/gif": true, "image/webp": true,
	"text/plain": true, "video/mp4": true, "video/webm": true, "audio/mpeg": true, "audio/ogg": true,
}

func disposition(mediaType, name string) string {
	kind := "attachment"
	if mt, _, err := mime.ParseMediaType(mediaType); err == nil && inlineTypes[mt] {
		kind = "inline"
	}
	if d := mime.FormatMediaType(kind, map[string]string{"filename": name}); d != "" {
		return d
	}
	return kind
}

// ServeAttachment serves an attachment's bytes, with Range requests.
func ServeAttachment(w http.ResponseWriter, r *http.Request, content io.ReadSeeker, modTime time.Time, sha, mediaType, name string) {
	hd := w.Header()
	hd.Set("Content-Type", mediaType)
	// The content never changes under its hash, so its hash is its ETag.
	hd.Set("ETag", `"`+sha+`"`)
	hd.Set("X-Content-Type-Options", "nosniff")
	if name != "" {
		hd.Set("Content-Disposition", disposition(mediaType, name))
		// An uploaded HTML or SVG file must not run as the portal's own page.
		hd.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	}
	http.ServeContent(w, r, "", modTime, content)
}
