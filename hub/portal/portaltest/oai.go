package portaltest

import (
	"encoding/xml"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

// SchemaPath is the schema OAI-PMH responses are validated against: the
// OAI-PMH 2.0 schema with oai_dc, vendored in hub/portal/testdata so tests
// need no network.
func SchemaPath() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "testdata", "harvest.xsd")
}

// RequireXMLLint returns the path of xmllint (Debian's libxml2-utils). It
// fails the test under CI=true when it is missing, and skips it elsewhere.
func RequireXMLLint(t testing.TB) string {
	t.Helper()
	p, err := exec.LookPath("xmllint")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("xmllint is missing: install libxml2-utils (make browser installs it)")
		}
		t.Skip("xmllint is missing: install libxml2-utils (make browser installs it)")
	}
	return p
}

// Validate checks body against the OAI-PMH and oai_dc schemas.
func Validate(t testing.TB, xmllint string, what string, body []byte) {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), xmllint, "--noout", "--nonet", "--schema", SchemaPath(), "-")
	stdin, _ := cmd.StdinPipe()
	go func() { stdin.Write(body); stdin.Close() }()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Errorf("%s is not schema-valid OAI-PMH: %v\n%s\n%.1500s", what, err, out, body)
	}
}

// Response is the part of an OAI-PMH response the tests read.
type Response struct {
	Errors []struct {
		Code string `xml:"code,attr"`
	} `xml:"error"`
	Headers []Header `xml:"ListIdentifiers>header"`
	Records []struct {
		Header Header `xml:"header"`
		Title  []struct {
			Lang string `xml:"lang,attr"`
			Text string `xml:",chardata"`
		} `xml:"metadata>dc>title"`
	} `xml:"ListRecords>record"`
	Token *struct {
		Value  string `xml:",chardata"`
		Size   int    `xml:"completeListSize,attr"`
		Cursor int    `xml:"cursor,attr"`
	} `xml:"ListRecords>resumptionToken"`
	IDToken *struct {
		Value  string `xml:",chardata"`
		Size   int    `xml:"completeListSize,attr"`
		Cursor int    `xml:"cursor,attr"`
	} `xml:"ListIdentifiers>resumptionToken"`
}

// Header is a record header.
type Header struct {
	Identifier string   `xml:"identifier"`
	Datestamp  string   `xml:"datestamp"`
	Sets       []string `xml:"setSpec"`
	Status     string   `xml:"status,attr"`
}

// Get requests the OAI-PMH endpoint with args, validates the response and
// decodes it.
func Get(t testing.TB, xmllint, endpoint string, args url.Values) (*Response, []byte) {
	t.Helper()
	resp, err := http.Get(endpoint + "?" + args.Encode())
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		t.Fatalf("OAI %s: %s", args.Encode(), resp.Status)
	}
	Validate(t, xmllint, "OAI-PMH "+args.Encode(), body)
	var r Response
	if err := xml.Unmarshal(body, &r); err != nil {
		t.Fatalf("OAI %s: %v", args.Encode(), err)
	}
	return &r, body
}

// Harvest runs a complete ListIdentifiers or ListRecords harvest with args,
// following resumption tokens, and returns every header in order. It fails
// the test when a page is invalid or a token's cursor is inconsistent.
func Harvest(t testing.TB, xmllint, endpoint, verb string, args url.Values) []Header {
	t.Helper()
	a := url.Values{"verb": {verb}}
	for k, v := range args {
		a[k] = v
	}
	var out []Header
	for page := 0; ; page++ {
		if page > 10000 {
			t.Fatal("harvest does not end")
		}
		r, _ := Get(t, xmllint, endpoint, a)
		if len(r.Errors) > 0 {
			if r.Errors[0].Code == "noRecordsMatch" && page == 0 {
				return nil
			}
			t.Fatalf("harvest %s: error %s", a.Encode(), r.Errors[0].Code)
		}
		tok := r.Token
		if verb == "ListIdentifiers" {
			out = append(out, r.Headers...)
			tok = r.IDToken
		} else {
			for _, rec := range r.Records {
				out = append(out, rec.Header)
			}
		}
		if tok == nil || tok.Value == "" {
			return out
		}
		if tok.Cursor > len(out) {
			t.Fatalf("resumption token cursor %d after %d records", tok.Cursor, len(out))
		}
		a = url.Values{"verb": {verb}, "resumptionToken": {tok.Value}}
	}
}
