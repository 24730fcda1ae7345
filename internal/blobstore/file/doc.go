// Package file stores blobs in a local directory: the embedded default for a
// hub or node without object storage.
//
// A blob lives at <dir>/ab/cd/<sha256> (the first two pairs of hex digits fan
// the files out so that no directory grows to hundreds of thousands of
// entries), with its media type in a small JSON sidecar <sha256>.meta next to
// it. A Put writes to a temporary file in that same directory, so the final
// rename is atomic on every filesystem, and renames only once the content
// has hashed to its name and been synced: a crash leaves either the whole
// blob or none of it, never a torn one under a valid name.
package file
