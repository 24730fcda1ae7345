package protocol

import (
	"errors"
	"fmt"
	"net/http"
)

// Code is a machine-readable error code. Codes travel in error responses and in
// per-record refusals, so clients can act on them without parsing messages.
type Code string

// The error codes of protocol v1.
const (
	CodeBadRequest          Code = "bad_request"
	CodeMalformedJSON       Code = "malformed_json"
	CodeUnsupportedProtocol Code = "unsupported_protocol"
	CodeUnknownKind         Code = "unknown_kind"
	CodeInvalidField        Code = "invalid_field"
	CodeBadSignature        Code = "bad_signature"
	CodeUnknownKey          Code = "unknown_key"
	CodeNotOwner            Code = "not_owner"
	CodeStaleVersion        Code = "stale_version"
	CodeVersionConflict     Code = "version_conflict"
	CodeRecordTooLarge      Code = "record_too_large"
	CodeBatchTooLarge       Code = "batch_too_large"
	CodeSeqGap              Code = "seq_gap"
	CodeEpochMismatch       Code = "epoch_mismatch"
	CodeUnauthorized        Code = "unauthorized"
	CodeForbidden           Code = "forbidden"
	CodeNotFound            Code = "not_found"
	CodeConflict            Code = "conflict"
	CodeTooManyRequests     Code = "too_many_requests"
	CodeUnavailable         Code = "unavailable"
	CodeInternal            Code = "internal"
	// Attachments (see blobs.go).
	CodeBlobHashMismatch Code = "blob_hash_mismatch"
	CodeBlobMissing      Code = "blob_missing"
	CodeQuotaExceeded    Code = "quota_exceeded"
	// Rules between entities (docs/protocol.md §4).
	CodeCountryNotAllowed  Code = "country_not_allowed"
	CodeCountryTaken       Code = "country_taken"
	CodeVisibilityMismatch Code = "visibility_mismatch"
	CodeInvalidSource      Code = "invalid_source"
	// CodeInvalidSpace refuses a post in a space that is not on the list,
	// that its owner may not write in, or that never leaves its node.
	CodeInvalidSpace Code = "invalid_space"
	// CodeInvalidAuthor refuses a post or comment whose author speaks for
	// another SIC than the one that signs it.
	CodeInvalidAuthor Code = "invalid_author"
	// CodeSuspended refuses every sync request of a node the coordination
	// team suspended; its credential stays valid for when it is resumed.
	CodeSuspended Code = "suspended"
	// An erasure is final: no version follows it (docs/protocol.md §17).
	CodeErased Code = "erased"
)

// statusByCode is the one table that maps codes to HTTP statuses. The reverse
// mapping, used when a response carries no parsable body, is derived from it.
var statusByCode = map[Code]int{
	CodeBadRequest:          http.StatusBadRequest,
	CodeMalformedJSON:       http.StatusBadRequest,
	CodeUnsupportedProtocol: http.StatusBadRequest,
	CodeUnknownKind:         http.StatusUnprocessableEntity,
	CodeInvalidField:        http.StatusUnprocessableEntity,
	CodeBadSignature:        http.StatusUnprocessableEntity,
	CodeUnknownKey:          http.StatusUnprocessableEntity,
	CodeNotOwner:            http.StatusForbidden,
	CodeStaleVersion:        http.StatusConflict,
	CodeVersionConflict:     http.StatusConflict,
	CodeRecordTooLarge:      http.StatusRequestEntityTooLarge,
	CodeBatchTooLarge:       http.StatusRequestEntityTooLarge,
	CodeSeqGap:              http.StatusConflict,
	CodeEpochMismatch:       http.StatusConflict,
	CodeUnauthorized:        http.StatusUnauthorized,
	CodeForbidden:           http.StatusForbidden,
	CodeNotFound:            http.StatusNotFound,
	CodeConflict:            http.StatusConflict,
	CodeTooManyRequests:     http.StatusTooManyRequests,
	CodeUnavailable:         http.StatusServiceUnavailable,
	CodeInternal:            http.StatusInternalServerError,
	CodeBlobHashMismatch:    http.StatusUnprocessableEntity,
	CodeBlobMissing:         http.StatusUnprocessableEntity,
	CodeQuotaExceeded:       http.StatusRequestEntityTooLarge,
	CodeCountryNotAllowed:   http.StatusForbidden,
	CodeCountryTaken:        http.StatusConflict,
	CodeVisibilityMismatch:  http.StatusUnprocessableEntity,
	CodeInvalidSource:       http.StatusUnprocessableEntity,
	CodeInvalidSpace:        http.StatusUnprocessableEntity,
	CodeInvalidAuthor:       http.StatusUnprocessableEntity,
	CodeSuspended:           http.StatusForbidden,
	CodeErased:              http.StatusGone,
}

// preferredCode picks the code a bare HTTP status stands for when several codes
// share it.
var preferredCode = map[int]Code{
	http.StatusBadRequest:            CodeBadRequest,
	http.StatusUnprocessableEntity:   CodeInvalidField,
	http.StatusForbidden:             CodeForbidden,
	http.StatusConflict:              CodeConflict,
	http.StatusRequestEntityTooLarge: CodeBatchTooLarge,
}

// HTTPStatus returns the HTTP status for a code; unknown codes are internal errors.
func HTTPStatus(c Code) int {
	if s, ok := statusByCode[c]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// CodeForStatus returns the code an HTTP status stands for, for responses that
// carry no error body (a proxy's 502, say).
func CodeForStatus(status int) Code {
	if c, ok := preferredCode[status]; ok {
		return c
	}
	for c, s := range statusByCode {
		if s == status {
			return c
		}
	}
	switch {
	case status >= 500:
		return CodeUnavailable
	case status >= 400:
		return CodeBadRequest
	}
	return ""
}

// Error is a protocol error: a code, a human message, and the record it concerns
// when there is one. Two errors match with errors.Is when their codes match, so
// a sentinel survives the network hop.
type Error struct {
	Code    Code   `json:"code"`
	Message string `json:"message"`
	// Record names the refused record, when the error is about one.
	Record string `json:"record,omitempty"`
}

func (e *Error) Error() string {
	if e.Record != "" {
		return fmt.Sprintf("%s: %s: %s", e.Record, e.Code, e.Message)
	}
	if e.Message == "" {
		return string(e.Code)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

// Is reports whether target is a protocol error with the same code.
func (e *Error) Is(target error) bool {
	var t *Error
	if !errors.As(target, &t) {
		return false
	}
	return t.Code == e.Code
}

// Errorf returns a protocol error with the given code and formatted message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of err, or CodeInternal when err is not a protocol error.
func ErrorCode(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternal
}

// Sentinels for errors.Is; compare codes, not messages.
var (
	ErrBadRequest          = &Error{Code: CodeBadRequest}
	ErrMalformedJSON       = &Error{Code: CodeMalformedJSON}
	ErrUnsupportedProtocol = &Error{Code: CodeUnsupportedProtocol}
	ErrUnknownKind         = &Error{Code: CodeUnknownKind}
	ErrInvalidField        = &Error{Code: CodeInvalidField}
	ErrBadSignature        = &Error{Code: CodeBadSignature}
	ErrUnknownKey          = &Error{Code: CodeUnknownKey}
	ErrNotOwner            = &Error{Code: CodeNotOwner}
	ErrStaleVersion        = &Error{Code: CodeStaleVersion}
	ErrVersionConflict     = &Error{Code: CodeVersionConflict}
	ErrRecordTooLarge      = &Error{Code: CodeRecordTooLarge}
	ErrBatchTooLarge       = &Error{Code: CodeBatchTooLarge}
	ErrSeqGap              = &Error{Code: CodeSeqGap}
	ErrEpochMismatch       = &Error{Code: CodeEpochMismatch}
	ErrUnauthorized        = &Error{Code: CodeUnauthorized}
	ErrForbidden           = &Error{Code: CodeForbidden}
	ErrNotFound            = &Error{Code: CodeNotFound}
	ErrConflict            = &Error{Code: CodeConflict}
	ErrTooManyRequests     = &Error{Code: CodeTooManyRequests}
	ErrUnavailable         = &Error{Code: CodeUnavailable}
	ErrInternal            = &Error{Code: CodeInternal}
	ErrBlobHashMismatch    = &Error{Code: CodeBlobHashMismatch}
	ErrBlobMissing         = &Error{Code: CodeBlobMissing}
	ErrQuotaExceeded       = &Error{Code: CodeQuotaExceeded}
	ErrCountryNotAllowed   = &Error{Code: CodeCountryNotAllowed}
	ErrCountryTaken        = &Error{Code: CodeCountryTaken}
	ErrVisibilityMismatch  = &Error{Code: CodeVisibilityMismatch}
	ErrInvalidSource       = &Error{Code: CodeInvalidSource}
	ErrInvalidSpace        = &Error{Code: CodeInvalidSpace}
	ErrInvalidAuthor       = &Error{Code: CodeInvalidAuthor}
	ErrSuspended           = &Error{Code: CodeSuspended}
	ErrErased              = &Error{Code: CodeErased}
)

// ErrorResponse is the body of every non-2xx response of the sync API.
type ErrorResponse struct {
	Error *Error `json:"error"`
}
