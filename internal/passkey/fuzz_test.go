package passkey

import (
	"errors"
	"testing"
)

// answers are a real registration and a real sign-in answer, to mutate
// from, and a few shapes that are nearly answers.
func answers(tb testing.TB, f *fixture) [][]byte {
	tb.Helper()
	m := f.member(tb, "seed@sic.example")
	opts, tok, err := f.BeginRegistration(tb.Context(), m)
	if err != nil {
		tb.Fatal(err)
	}
	k := newKey(tb, testRPID, userHandle(tb, opts))
	created := k.create(tb, opts, testOrigin)
	if _, err := f.FinishRegistration(tb.Context(), m, tok, created, ""); err != nil {
		tb.Fatal(err)
	}
	lo, _, err := f.BeginLogin(tb.Context())
	if err != nil {
		tb.Fatal(err)
	}
	return [][]byte{created, k.get(tb, lo, testOrigin), nil, []byte("{}"), []byte("null"), []byte("[]"),
		[]byte(`{"id":"AA","rawId":"AA","type":"public-key","response":{}}`),
		[]byte(`{"id":"AA","rawId":"AA","type":"public-key","response":{"clientDataJSON":"e30","authenticatorData":"","signature":""}}`),
		[]byte(`{"id":"AA","rawId":"AA","type":"public-key","response":{"clientDataJSON":"e30","attestationObject":"oA"}}`)}
}

// FuzzParse feeds the decoders of browsers' answers arbitrary bytes: they
// return an answer or an error, and never panic.
func FuzzParse(f *testing.F) {
	for _, a := range answers(f, newFixture(f)) {
		f.Add(a)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if p, err := parseCreation(body); (err == nil) == (p == nil) {
			t.Fatalf("parseCreation = %v, %v", p, err)
		} else if err != nil && !errors.Is(err, ErrRefused) {
			t.Fatalf("parseCreation error %v is not ErrRefused", err)
		}
		if p, err := parseAssertion(body); (err == nil) == (p == nil) {
			t.Fatalf("parseAssertion = %v, %v", p, err)
		} else if err != nil && !errors.Is(err, ErrRefused) {
			t.Fatalf("parseAssertion error %v is not ErrRefused", err)
		}
	})
}

// FuzzFinishLogin answers fresh ceremonies with arbitrary bytes. Only an
// authenticator's signature over a ceremony's own challenge may sign
// anyone in or add a passkey, so every answer is refused, without a panic.
func FuzzFinishLogin(f *testing.F) {
	fx := newFixture(f)
	for _, a := range answers(f, fx) {
		f.Add(a)
	}
	m := fx.member(f, "fuzz@sic.example")
	f.Fuzz(func(t *testing.T, body []byte) {
		_, tok, err := fx.BeginLogin(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if got, err := fx.FinishLogin(t.Context(), tok, body); err == nil || got != 0 {
			t.Fatalf("FinishLogin = %d, %v", got, err)
		}
		_, tok, err = fx.BeginRegistration(t.Context(), m)
		if err != nil {
			t.Fatal(err)
		}
		if pk, err := fx.FinishRegistration(t.Context(), m, tok, body, ""); err == nil {
			t.Fatalf("FinishRegistration kept %+v", pk)
		}
	})
}
