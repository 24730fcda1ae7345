// Package s3 stores blobs in MinIO or any other S3-compatible object store,
// through minio-go: the distributed engine for bytes once a hub or its
// mirrors outgrow one disk.
//
// A blob is the object <Prefix>blobs/<sha256>, with its media type as the
// object's Content-Type and its hash again in x-amz-meta-sha256 (so that the
// bucket stays self-describing to other tools).
//
// S3 cannot check our hash before an object exists, and an object that
// exists under a blob's name is trusted by every reader. So a Put never lets
// an object appear before the hash matched: a blob that fits in one part
// (8 MiB) is hashed in memory and sent in one request signed with its
// SHA-256, which the server checks as well; a larger one is sent as a
// multipart upload to its final key, hashing while it streams, and the
// upload is completed only once the last part has been read and the whole
// blob hashed. On a mismatch the upload is aborted and the blob's name was
// never taken. (An earlier version uploaded to <Prefix>tmp/ and copied the
// object into place; the copy cost as much as the upload itself.)
//
// Every part carries a CRC32C the server checks. Memory stays bounded
// whatever the blob's size: a Put holds three parts, one being read while
// two are sent. Sweep aborts the incomplete uploads a crash leaves.
package s3
