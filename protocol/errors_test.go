package protocol

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"testing"
)

// allCodes lists every code of protocol v1 with its sentinel.
var allCodes = []struct {
	code     Code
	sentinel error
	status   int
}{
	{CodeBadRequest, ErrBadRequest, 400},
	{CodeMalformedJSON, ErrMalformedJSON, 400},
	{CodeUnsupportedProtocol, ErrUnsupportedProtocol, 400},
	{CodeUnknownKind, ErrUnknownKind, 422},
	{CodeInvalidField, ErrInvalidField, 422},
	{CodeBadSignature, ErrBadSignature, 422},
	{CodeUnknownKey, ErrUnknownKey, 422},
	{CodeNotOwner, ErrNotOwner, 403},
	{CodeStaleVersion, ErrStaleVersion, 409},
	{CodeVersionConflict, ErrVersionConflict, 409},
	{CodeRecordTooLarge, ErrRecordTooLarge, 413},
	{CodeBatchTooLarge, ErrBatchTooLarge, 413},
	{CodeSeqGap, ErrSeqGap, 409},
	{CodeEpochMismatch, ErrEpochMismatch, 409},
	{CodeUnauthorized, ErrUnauthorized, 401},
	{CodeForbidden, ErrForbidden, 403},
	{CodeNotFound, ErrNotFound, 404},
	{CodeConflict, ErrConflict, 409},
	{CodeTooManyRequests, ErrTooManyRequests, 429},
	{CodeUnavailable, ErrUnavailable, 503},
	{CodeInternal, ErrInternal, 500},
	{CodeBlobHashMismatch, ErrBlobHashMismatch, 422},
	{CodeBlobMissing, ErrBlobMissing, 422},
	{CodeQuotaExceeded, ErrQuotaExceeded, 413},
	{CodeCountryNotAllowed, ErrCountryNotAllowed, 403},
	{CodeCountryTaken, ErrCountryTaken, 409},
	{CodeVisibilityMismatch, ErrVisibilityMismatch, 422},
	{CodeInvalidSource, ErrInvalidSource, 422},
	{CodeInvalidSpace, ErrInvalidSpace, 422},
	{CodeInvalidAuthor, ErrInvalidAuthor, 422},
	{CodeSuspended, ErrSuspended, 403},
	{CodeErased, ErrErased, 410},
}

func TestHTTPStatus(t *testing.T) {
	if len(allCodes) != len(statusByCode) {
		t.Fatalf("test lists %d codes, the table %d", len(allCodes), len(statusByCode))
	}
	for _, tc := range allCodes {
		t.Run(string(tc.code), func(t *testing.T) {
			status := HTTPStatus(tc.code)
			if status != tc.status {
				t.Fatalf("HTTPStatus = %d, want %d", status, tc.status)
			}
			// The way back gives a code with the same status, so a response
			// without a body still matches the right class of sentinel.
			back := CodeForStatus(status)
			if HTTPStatus(back) != status {
				t.Fatalf("CodeForStatus(%d) = %q, whose status is %d", status, back, HTTPStatus(back))
			}
			if tc.sentinel.(*Error).Code != tc.code {
				t.Fatalf("sentinel has code %q", tc.sentinel.(*Error).Code)
			}
		})
	}
	if got := HTTPStatus("no_such_code"); got != http.StatusInternalServerError {
		t.Fatalf("unknown code: %d", got)
	}
}

func TestCodeForStatus(t *testing.T) {
	tests := []struct {
		status int
		want   Code
	}{
		{400, CodeBadRequest},
		{401, CodeUnauthorized},
		{403, CodeForbidden},
		{404, CodeNotFound},
		{409, CodeConflict},
		{410, CodeErased},
		{413, CodeBatchTooLarge},
		{422, CodeInvalidField},
		{429, CodeTooManyRequests},
		{500, CodeInternal},
		{503, CodeUnavailable},
		{502, CodeUnavailable}, // a proxy in front of a hub that is down
		{504, CodeUnavailable},
		{405, CodeBadRequest},
		{418, CodeBadRequest},
		{200, ""},
		{302, ""},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprint(tc.status), func(t *testing.T) {
			// Run it often: map iteration must not make the answer vary.
			for range 20 {
				if got := CodeForStatus(tc.status); got != tc.want {
					t.Fatalf("CodeForStatus(%d) = %q, want %q", tc.status, got, tc.want)
				}
			}
		})
	}
}

func TestError_Is(t *testing.T) {
	for _, tc := range allCodes {
		t.Run(string(tc.code), func(t *testing.T) {
			sent := &ErrorResponse{Error: &Error{Code: tc.code, Message: "something about it", Record: "be:01JKT3S6M00M2GA1850M2GA185 v3"}}
			b, err := json.Marshal(sent)
			if err != nil {
				t.Fatal(err)
			}
			var got ErrorResponse
			if err := json.Unmarshal(b, &got); err != nil {
				t.Fatal(err)
			}
			wrapped := fmt.Errorf("push be seq 1-5: %w", got.Error)
			if !errors.Is(wrapped, tc.sentinel) {
				t.Fatalf("%s does not match its sentinel after a JSON round trip", b)
			}
			for _, other := range allCodes {
				if other.code != tc.code && errors.Is(wrapped, other.sentinel) {
					t.Fatalf("%s matches %s", tc.code, other.code)
				}
			}
			if ErrorCode(wrapped) != tc.code {
				t.Fatalf("ErrorCode = %q", ErrorCode(wrapped))
			}
			if *got.Error != *sent.Error {
				t.Fatalf("round trip %+v, want %+v", got.Error, sent.Error)
			}
		})
	}
	t.Run("wire format", func(t *testing.T) {
		b, _ := json.Marshal(ErrorResponse{Error: &Error{Code: CodeSeqGap, Message: "applied_seq is 41"}})
		if want := `{"error":{"code":"seq_gap","message":"applied_seq is 41"}}`; string(b) != want {
			t.Fatalf("%s, want %s", b, want)
		}
	})
	t.Run("not a protocol error", func(t *testing.T) {
		err := errors.New("disk full")
		if errors.Is(err, ErrInternal) {
			t.Fatal("a plain error matches ErrInternal")
		}
		if ErrorCode(err) != CodeInternal || ErrorCode(nil) != CodeInternal {
			t.Fatal("ErrorCode of a plain error is not internal")
		}
		if (&Error{Code: CodeNotFound}).Is(err) {
			t.Fatal("matches a plain error")
		}
	})
}

func TestError_Error(t *testing.T) {
	tests := []struct {
		err  *Error
		want string
	}{
		{&Error{Code: CodeNotFound}, "not_found"},
		{Errorf(CodeSeqGap, "applied_seq is %d", 41), "seq_gap: applied_seq is 41"},
		{&Error{Code: CodeStaleVersion, Message: "replayed older version: have v3, got v2", Record: "be:01JKT3S6M00M2GA1850M2GA185"}, "be:01JKT3S6M00M2GA1850M2GA185: stale_version: replayed older version: have v3, got v2"},
	}
	for _, tc := range tests {
		if got := tc.err.Error(); got != tc.want {
			t.Errorf("Error() = %q, want %q", got, tc.want)
		}
	}
}
