// Package blobstoretest is the conformance suite every blobstore.Store
// backend runs from its own tests, so that the hub can swap a directory for
// MinIO without discovering a difference in production. It is an ordinary
// package rather than a _test file so that each backend's tests can import it.
package blobstoretest
