// Package s3 stores blobs in MinIO or any other S3-compatible object store,
// through minio-go: the distributed engine for bytes once a hub or its
// mirrors outgrow one disk.
//
// A blob is the object <Prefix>blobs/<sha256>, with its media type as the
// object's Content-Type and its hash again in x-amz-meta-sha256 (so that the
// bucket stays self-describing to other tools).
//
// S3 cannot check our hash before an object exists, and an object that
// exists under a blob's name is trusted by every reader. So a Put uploads to
// a temporary key <Prefix>tmp/<random>, hashing while it streams, and only
// when the hash matched copies the object server-side to its final key and
// deletes the temporary one; on a mismatch it deletes the temporary object
// and the blob's name was never taken. The copy costs the server a second
// write but no client bandwidth.
//
// Memory stays bounded whatever the blob's size: minio-go uploads a body of
// known size in parts, holding one part (8 MiB here) in memory per Put.
package s3
