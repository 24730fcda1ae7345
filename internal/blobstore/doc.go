// Package blobstore stores attachments (handbooks, lesson plans, videos) by
// the SHA-256 of their content.
//
// The content address is the whole identity of a blob: the same bytes always
// land under the same name, so a blob is never uploaded twice, a Put of an
// existing blob is a no-op, and nobody can overwrite a blob with different
// bytes. The hash is also the only thing that reaches a path or an object key,
// which is why every entry point checks it with ValidHash first: 64 lowercase
// hex digits cannot name a parent directory.
//
// Blobs run to gigabytes, so nothing here ever holds one in memory. A Put
// hashes the body while streaming it to a temporary place and publishes the
// blob only after the hash matched (see Verifier); readers get an
// io.ReadSeekCloser so that http.ServeContent can answer Range requests.
//
// The backends live in their own packages, one per dependency: file (a local
// directory, the embedded default) and s3 (MinIO or any S3-compatible
// service). blobstoretest holds the conformance suite both must pass.
//
// Staging sits in front of any Store and keeps partial uploads on local disk
// so that an interrupted upload of a large file resumes where it stopped
// instead of starting again.
package blobstore
