// Package protocol implements version 1 of the bikfed sync protocol: the signed
// change envelope and the body of every entity kind, their validation, Ed25519
// signatures over bytes that travel verbatim, the machine-readable error codes,
// the request and response types of the hub's sync API, and a client for that API.
//
// It is the leaf of the module: it imports no storage and nothing else of bikfed,
// so a Safer Internet Centre can build its own client from it and docs/protocol.md.
//
// A change is signed over the exact JSON bytes of its "change" member. Those bytes
// are kept as they arrived (json.RawMessage) and written back out unchanged by the
// hub's feed, so any puller can verify any change end to end against the hub's key
// directory. Nothing re-encodes a change before it is verified.
package protocol
