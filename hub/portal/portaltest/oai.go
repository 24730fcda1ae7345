package portaltest

import (
	"bytes"
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

// LOMNamespace is the namespace of IEEE LOM records (1484.12.3).
const LOMNamespace = "http://ltsc.ieee.org/xsd/LOM"

// SchemaPath is the schema OAI-PMH responses are validated against: the
// OAI-PMH 2.0 schema with oai_dc, vendored in hub/portal/testdata so tests
// need no network.
func SchemaPath() string {
	return filepath.Join(testdataDir(), "harvest.xsd")
}

func testdataDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "testdata")
}

// LOMSchemaPath is the LOM XML schema that LOM records are validated
// against: the IEEE LTSC binding's own lomLoose.xsd (beside its common/,
// unique/, vocab/ and extend/ directories) when one is installed, at
// $BIKFED_LOM_XSD or ~/.cache/bikfed/lom/lomLoose.xsd; otherwise the
// project's schema of the binding as its records use it
// (testdata/lom/lom-lre.xsd), which no package registry the project can
// install from distributes the binding's.
func LOMSchemaPath() string {
	p := os.Getenv("BIKFED_LOM_XSD")
	if p == "" {
		home, _ := os.UserHomeDir()
		p = filepath.Join(home, ".cache", "bikfed", "lom", "lomLoose.xsd")
	}
	if _, err := os.Stat(p); err != nil {
		return filepath.Join(testdataDir(), "lom", "lom-lre.xsd")
	}
	return p
}

// lomSchema writes the schema a response with LOM records is validated
// against into a temporary directory and returns its path: OAI-PMH, oai_dc
// and LOM, every record checked strictly.
func lomSchema(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	td, err := filepath.Abs(testdataDir())
	if err != nil {
		t.Fatal(err)
	}
	lom, err := filepath.Abs(LOMSchemaPath())
	if err != nil {
		t.Fatal(err)
	}
	wrapper := `<?xml version="1.0" encoding="UTF-8"?>
<schema xmlns="http://www.w3.org/2001/XMLSchema" targetNamespace="urn:bikfed:oai-validation">
<import namespace="http://www.openarchives.org/OAI/2.0/" schemaLocation="` + fileURL(filepath.Join(td, "OAI-PMH.xsd")) + `"/>
<import namespace="http://www.openarchives.org/OAI/2.0/oai_dc/" schemaLocation="` + fileURL(filepath.Join(td, "oai_dc.xsd")) + `"/>
<import namespace="` + LOMNamespace + `" schemaLocation="` + fileURL(lom) + `"/>
</schema>
`
	path := filepath.Join(dir, "harvest-lom.xsd")
	if err := os.WriteFile(path, []byte(wrapper), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func fileURL(path string) string {
	return (&url.URL{Scheme: "file", Path: filepath.ToSlash(path)}).String()
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

// Validate checks body against the OAI-PMH and oai_dc schemas, and LOM
// records against the LOM schema (see lomSchema).
func Validate(t testing.TB, xmllint string, what string, body []byte) {
	t.Helper()
	schema := SchemaPath()
	if bytes.Contains(body, []byte(`xmlns="`+LOMNamespace+`"`)) {
		schema = lomSchema(t)
	}
	cmd := exec.CommandContext(t.Context(), xmllint, "--noout", "--nonet", "--schema", schema, "-")
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
	Records []Record `xml:"ListRecords>record"`
	Record  *Record  `xml:"GetRecord>record"`
	Formats []struct {
		Prefix    string `xml:"metadataPrefix"`
		Schema    string `xml:"schema"`
		Namespace string `xml:"metadataNamespace"`
	} `xml:"ListMetadataFormats>metadataFormat"`
	Identify *struct {
		RepositoryName string `xml:"repositoryName"`
		AdminEmail     string `xml:"adminEmail"`
	} `xml:"Identify"`
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

// Record is a record of ListRecords or GetRecord, in oai_dc or LOM.
type Record struct {
	Header Header `xml:"header"`
	Title  []struct {
		Lang string `xml:"lang,attr"`
		Text string `xml:",chardata"`
	} `xml:"metadata>dc>title"`
	LOM *LOM `xml:"metadata>lom"`
}

// LangString is a LOM langstring: text in each of its languages.
type LangString []struct {
	Language string `xml:"language,attr"`
	Text     string `xml:",chardata"`
}

// Get returns the text in lang, or "".
func (l LangString) Get(lang string) string {
	for _, s := range l {
		if s.Language == lang {
			return s.Text
		}
	}
	return ""
}

// LOMTerm is a LOM vocabulary term.
type LOMTerm struct {
	Source string `xml:"source"`
	Value  string `xml:"value"`
}

// LOM is what the tests read of an IEEE LOM record.
type LOM struct {
	XMLName xml.Name `xml:"http://ltsc.ieee.org/xsd/LOM lom"`
	General struct {
		Identifier []struct {
			Catalog string `xml:"catalog"`
			Entry   string `xml:"entry"`
		} `xml:"identifier"`
		Title       LangString `xml:"title>string"`
		Language    []string   `xml:"language"`
		Description LangString `xml:"description>string"`
		Keyword     []struct {
			String LangString `xml:"string"`
		} `xml:"keyword"`
	} `xml:"general"`
	Contribute []struct {
		Role   LOMTerm  `xml:"role"`
		Entity []string `xml:"entity"`
		Date   string   `xml:"date>dateTime"`
	} `xml:"lifeCycle>contribute"`
	MetadataSchema []string `xml:"metaMetadata>metadataSchema"`
	Location       []string `xml:"technical>location"`
	Educational    struct {
		LearningResourceType []LOMTerm  `xml:"learningResourceType"`
		IntendedEndUserRole  []LOMTerm  `xml:"intendedEndUserRole"`
		TypicalAgeRange      LangString `xml:"typicalAgeRange>string"`
		Language             []string   `xml:"language"`
	} `xml:"educational"`
	Rights struct {
		Cost        LOMTerm    `xml:"cost"`
		Copyright   LOMTerm    `xml:"copyrightAndOtherRestrictions"`
		Description LangString `xml:"description>string"`
	} `xml:"rights"`
	Classification []struct {
		Purpose   LOMTerm `xml:"purpose"`
		TaxonPath []struct {
			Source LangString `xml:"source>string"`
			Taxon  []struct {
				ID    string     `xml:"id"`
				Entry LangString `xml:"entry>string"`
			} `xml:"taxon"`
		} `xml:"taxonPath"`
	} `xml:"classification"`
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
	headers, _ := HarvestRecords(t, xmllint, endpoint, verb, args)
	return headers
}

// HarvestRecords is Harvest that also returns ListRecords' records.
func HarvestRecords(t testing.TB, xmllint, endpoint, verb string, args url.Values) ([]Header, []Record) {
	t.Helper()
	a := url.Values{"verb": {verb}}
	for k, v := range args {
		a[k] = v
	}
	var out []Header
	var recs []Record
	for page := 0; ; page++ {
		if page > 10000 {
			t.Fatal("harvest does not end")
		}
		r, _ := Get(t, xmllint, endpoint, a)
		if len(r.Errors) > 0 {
			if r.Errors[0].Code == "noRecordsMatch" && page == 0 {
				return nil, nil
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
			recs = append(recs, r.Records...)
		}
		if tok == nil || tok.Value == "" {
			return out, recs
		}
		if tok.Cursor > len(out) {
			t.Fatalf("resumption token cursor %d after %d records", tok.Cursor, len(out))
		}
		a = url.Values{"verb": {verb}, "resumptionToken": {tok.Value}}
	}
}
