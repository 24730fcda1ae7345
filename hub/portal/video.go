package portal

import (
	"mime"
	"path"
	"slices"
	"strings"

	"github.com/bikfed/bikfed/protocol"
)

// videoTypes are the video formats the portal plays: those HTML5 browsers
// play natively, so the page needs no script.
var videoTypes = []string{"video/webm", "video/mp4", "video/ogg"}

// videoPlayer is what the resource page of a video shows: its first video
// file, a poster from its first image, and a captions track per WebVTT file.
type videoPlayer struct {
	Src, Type, Poster, Name string
	Tracks                  []captionTrack
}

type captionTrack struct {
	Src, Lang, Label string
	Default          bool
}

// mediaType is an attachment's media type without parameters, in lower
// case.
func mediaType(b protocol.BlobRef) string {
	t, _, err := mime.ParseMediaType(b.MediaType)
	if err != nil {
		return strings.ToLower(strings.TrimSpace(b.MediaType))
	}
	return t
}

// videoFile is a resource's first attached video file.
func videoFile(blobs []protocol.BlobRef) (protocol.BlobRef, bool) {
	for _, b := range blobs {
		if slices.Contains(videoTypes, mediaType(b)) {
			return b, true
		}
	}
	return protocol.BlobRef{}, false
}

// posterImage is a resource's first attached image, the poster of its video.
func posterImage(blobs []protocol.BlobRef) (protocol.BlobRef, bool) {
	for _, b := range blobs {
		if strings.HasPrefix(mediaType(b), "image/") {
			return b, true
		}
	}
	return protocol.BlobRef{}, false
}

// captionsLang is the language of a captions file, named in the file's name
// before its extension ("captions.fr.vtt", "intro.pt-BR.vtt"): the protocol
// keeps no language per attachment, and a name is what a SIC controls when
// it attaches a file. A name without one means the resource's language.
func captionsLang(name, fallback string) string {
	base := strings.TrimSuffix(name, path.Ext(name))
	if i := strings.LastIndexByte(base, '.'); i >= 0 {
		if tag, err := protocol.ParseLanguageTag(base[i+1:]); err == nil {
			return tag
		}
	}
	return fallback
}

// newVideoPlayer is the player of a resource of type video with a video
// file attached, nil for any other resource. The captions in the
// interface's language are the default track.
func newVideoPlayer(row *resourceRow, ui string) *videoPlayer {
	if row.Type != "video" {
		return nil
	}
	f, ok := videoFile(row.Blobs)
	if !ok {
		return nil
	}
	v := &videoPlayer{Src: blobHref(f), Type: mediaType(f), Name: f.Name}
	if img, ok := posterImage(row.Blobs); ok {
		v.Poster = blobHref(img)
	}
	seen := map[string]bool{}
	for _, b := range row.Blobs {
		if mediaType(b) != "text/vtt" {
			continue
		}
		lang := captionsLang(b.Name, row.Language)
		if seen[lang] {
			// Two tracks of one language and kind would confuse
			// the browser's menu; the first one wins.
			continue
		}
		seen[lang] = true
		v.Tracks = append(v.Tracks, captionTrack{Src: blobHref(b), Lang: lang, Label: languageName(lang)})
	}
	def := -1
	for i, t := range v.Tracks {
		if t.Lang == ui || def < 0 && strings.HasPrefix(t.Lang, ui+"-") {
			def = i
			if t.Lang == ui {
				break
			}
		}
	}
	if def >= 0 {
		v.Tracks[def].Default = true
	}
	return v
}
