// Package miniotest runs a real MinIO server for tests, so that the S3 code
// is tested against the engine it runs on in production rather than against
// a mock that agrees with whatever the code assumes.
//
// The server binary is built once per machine by scripts/minio.sh (make
// minio) at a pinned commit. A missing binary fails the test instead of
// skipping it: a skipped storage test looks green in CI while testing
// nothing.
package miniotest
