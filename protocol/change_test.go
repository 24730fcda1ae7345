package protocol

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// golden returns the bytes of testdata/valid_<kind>.json: a change exactly as
// Key.Sign encodes it.
func golden(tb testing.TB, kind Kind) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "valid_"+string(kind)+".json"))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// mutate decodes a change into generic JSON, lets f edit it and encodes it again.
func mutate(tb testing.TB, raw []byte, f func(c, body map[string]any)) []byte {
	tb.Helper()
	var c map[string]any
	if err := json.Unmarshal(raw, &c); err != nil {
		tb.Fatal(err)
	}
	body, _ := c["body"].(map[string]any)
	f(c, body)
	out, err := json.Marshal(c)
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

// fieldsOf returns the fields a validation error names.
func fieldsOf(err error) []string {
	var ve *ValidationError
	if !errors.As(err, &ve) {
		return nil
	}
	var out []string
	for _, f := range ve.Fields {
		out = append(out, f.Field)
	}
	return out
}

func TestParseChange_golden(t *testing.T) {
	for _, kind := range Kinds {
		t.Run(string(kind), func(t *testing.T) {
			raw := golden(t, kind)
			c, err := ParseChange(raw)
			if err != nil {
				t.Fatalf("ParseChange: %v", err)
			}
			if c.Kind != kind || c.Protocol != Version {
				t.Fatalf("kind %q v%d, want %q v%d", c.Kind, c.Protocol, kind, Version)
			}
			if c.Kind.HubOnly() != (c.Owner == HubID) {
				t.Fatalf("golden %s is owned by %q", kind, c.Owner)
			}
			body, err := DecodeBody(c.Kind, c.Body)
			if err != nil {
				t.Fatalf("DecodeBody: %v", err)
			}
			if body == nil {
				t.Fatal("DecodeBody returned no body")
			}
			// The golden files are what Key.Sign produces: encoding the parsed
			// change again gives the same bytes, so they also pin the encoder.
			again, err := json.Marshal(c)
			if err != nil {
				t.Fatal(err)
			}
			if string(again) != string(raw) {
				t.Fatalf("re-encoded golden differs:\n got %s\nwant %s", again, raw)
			}
		})
	}
}

func TestChange_Validate(t *testing.T) {
	type edit = func(c, body map[string]any)
	tests := []struct {
		name   string
		kind   Kind
		edit   edit
		code   Code
		fields []string // exactly these, in order, for invalid_field
	}{
		// Envelope.
		{"unknown kind", KindResource, func(c, b map[string]any) { c["kind"] = "calendar" }, CodeUnknownKind, nil},
		{"protocol version 2", KindResource, func(c, b map[string]any) { c["v"] = 2 }, CodeUnsupportedProtocol, nil},
		{"protocol version missing", KindResource, func(c, b map[string]any) { delete(c, "v") }, CodeUnsupportedProtocol, nil},
		{"unknown envelope field", KindResource, func(c, b map[string]any) { c["colour"] = "blue" }, CodeMalformedJSON, nil},
		{"unknown body field", KindResource, func(c, b map[string]any) { b["colour"] = "blue" }, CodeMalformedJSON, nil},
		{"wrong JSON type", KindResource, func(c, b map[string]any) { c["version"] = "3" }, CodeMalformedJSON, nil},
		{"fractional version", KindResource, func(c, b map[string]any) { c["version"] = 1.5 }, CodeMalformedJSON, nil},
		{"bad updated_at", KindResource, func(c, b map[string]any) { c["updated_at"] = "11/02/2025" }, CodeMalformedJSON, nil},
		{"body not an object", KindResource, func(c, b map[string]any) { c["body"] = []any{1} }, CodeMalformedJSON, nil},
		{"id/owner mismatch", KindResource, func(c, b map[string]any) { c["id"] = "fr:01JKT3S6M00M2GA1850M2GA185" }, CodeInvalidField, []string{"id"}},
		{"id not a ULID", KindResource, func(c, b map[string]any) { c["id"] = "be:42" }, CodeInvalidField, []string{"id"}},
		{"owner invalid", KindResource, func(c, b map[string]any) {
			c["owner"] = "BE"
			c["id"] = "BE:01JKT3S6M00M2GA1850M2GA185"
			c["key_id"] = "BE-81bcc3dfb9ba630c"
		}, CodeInvalidField, []string{"owner", "id"}},
		{"hub-only kind owned by a node: service", KindService, func(c, b map[string]any) {
			c["owner"], c["id"], c["key_id"] = "be", "be:01JKT3SCFGWFHY7RZ3WFHY7RZ3", "be-81bcc3dfb9ba630c"
		}, CodeInvalidField, []string{"kind"}},
		{"hub-only kind owned by a node: moderation", KindModeration, func(c, b map[string]any) {
			c["owner"], c["id"], c["key_id"] = "fr", "fr:01JKT3SDER1040G2081040G208", "fr-038a816d4585c231"
		}, CodeInvalidField, []string{"kind"}},
		{"version 0", KindResource, func(c, b map[string]any) { c["version"] = 0 }, CodeInvalidField, []string{"version"}},
		{"seq 0", KindResource, func(c, b map[string]any) { c["seq"] = 0 }, CodeInvalidField, []string{"seq"}},
		{"negative seq", KindResource, func(c, b map[string]any) { c["seq"] = -4 }, CodeInvalidField, []string{"seq"}},
		{"updated_at missing", KindResource, func(c, b map[string]any) { delete(c, "updated_at") }, CodeInvalidField, []string{"updated_at"}},
		{"unknown visibility", KindResource, func(c, b map[string]any) { c["visibility"] = "secret" }, CodeInvalidField, []string{"visibility"}},
		{"visibility missing", KindResource, func(c, b map[string]any) { delete(c, "visibility") }, CodeInvalidField, []string{"visibility"}},
		{"key of another owner", KindResource, func(c, b map[string]any) { c["key_id"] = "fr-038a816d4585c231" }, CodeInvalidField, []string{"key_id"}},
		{"key_id missing", KindResource, func(c, b map[string]any) { delete(c, "key_id") }, CodeInvalidField, []string{"key_id"}},
		{"body missing", KindResource, func(c, b map[string]any) { delete(c, "body") }, CodeInvalidField, []string{"body"}},
		{"body null", KindResource, func(c, b map[string]any) { c["body"] = nil }, CodeInvalidField, []string{"body"}},
		{"deleted with body", KindResource, func(c, b map[string]any) { c["deleted"] = true }, CodeInvalidField, []string{"body"}},
		{"erased without deleted", KindResource, func(c, b map[string]any) { c["erased"] = true }, CodeInvalidField, []string{"erased"}},
		{"erased with attachments", KindResource, func(c, b map[string]any) { c["deleted"], c["erased"] = true, true; delete(c, "body") }, CodeInvalidField, []string{"blobs"}},
		// Attachments.
		{"blob name path traversal", KindResource, func(c, b map[string]any) { blob(c)["name"] = "../etc/passwd" }, CodeInvalidField, []string{"blobs[0].name"}},
		{"blob name with slash", KindResource, func(c, b map[string]any) { blob(c)["name"] = "a/b" }, CodeInvalidField, []string{"blobs[0].name"}},
		{"blob name with backslash", KindResource, func(c, b map[string]any) { blob(c)["name"] = `a\b` }, CodeInvalidField, []string{"blobs[0].name"}},
		{"blob name dot dot", KindResource, func(c, b map[string]any) { blob(c)["name"] = ".." }, CodeInvalidField, []string{"blobs[0].name"}},
		{"blob name empty", KindResource, func(c, b map[string]any) { blob(c)["name"] = "" }, CodeInvalidField, []string{"blobs[0].name"}},
		{"blob name control character", KindResource, func(c, b map[string]any) { blob(c)["name"] = "a\x00.pdf" }, CodeInvalidField, []string{"blobs[0].name"}},
		{"blob name too long", KindResource, func(c, b map[string]any) { blob(c)["name"] = strings.Repeat("a", 256) }, CodeInvalidField, []string{"blobs[0].name"}},
		{"blob sha256 uppercase", KindResource, func(c, b map[string]any) { blob(c)["sha256"] = strings.ToUpper(blob(c)["sha256"].(string)) }, CodeInvalidField, []string{"blobs[0].sha256"}},
		{"blob sha256 short", KindResource, func(c, b map[string]any) { blob(c)["sha256"] = "9f86d081" }, CodeInvalidField, []string{"blobs[0].sha256"}},
		{"blob sha256 not hex", KindResource, func(c, b map[string]any) { blob(c)["sha256"] = strings.Repeat("g", 64) }, CodeInvalidField, []string{"blobs[0].sha256"}},
		{"blob negative size", KindResource, func(c, b map[string]any) { blob(c)["size"] = -1 }, CodeInvalidField, []string{"blobs[0].size"}},
		{"blob too big", KindResource, func(c, b map[string]any) { blob(c)["size"] = int64(MaxBlobSize) + 1 }, CodeInvalidField, []string{"blobs[0].size"}},
		{"blob media type", KindResource, func(c, b map[string]any) { blob(c)["media_type"] = "pdf" }, CodeInvalidField, []string{"blobs[0].media_type"}},
		{"too many blobs", KindResource, func(c, b map[string]any) {
			bs := c["blobs"].([]any)
			for len(bs) <= MaxBlobsPerItem {
				bs = append(bs, bs[0])
			}
			c["blobs"] = bs
		}, CodeInvalidField, []string{"blobs"}},
		// Resource.
		{"age range inverted", KindResource, func(c, b map[string]any) { b["age_min"], b["age_max"] = 15, 10 }, CodeInvalidField, []string{"body.age_max"}},
		{"age out of range", KindResource, func(c, b map[string]any) { b["age_max"] = 120 }, CodeInvalidField, []string{"body.age_max"}},
		{"negative age", KindResource, func(c, b map[string]any) { b["age_min"] = -1 }, CodeInvalidField, []string{"body.age_min"}},
		{"unknown topic", KindResource, func(c, b map[string]any) { b["topics"] = []any{"cyberbullying", "fishing"} }, CodeInvalidField, []string{"body.topics[1]"}},
		{"repeated topic", KindResource, func(c, b map[string]any) { b["topics"] = []any{"privacy", "privacy"} }, CodeInvalidField, []string{"body.topics[1]"}},
		{"too many topics, one repeated", KindResource, func(c, b map[string]any) {
			topics := make([]any, 0, MaxListLen+2)
			for i := range MaxListLen + 1 {
				topics = append(topics, Topics[i%len(Topics)])
			}
			b["topics"] = append(topics, "fishing")
		}, CodeInvalidField, repeatedTopics()},
		{"no topics", KindResource, func(c, b map[string]any) { b["topics"] = []any{} }, CodeInvalidField, []string{"body.topics"}},
		{"unknown audience", KindResource, func(c, b map[string]any) { b["audiences"] = []any{"grandparents"} }, CodeInvalidField, []string{"body.audiences[0]"}},
		{"unknown type", KindResource, func(c, b map[string]any) { b["type"] = "tip sheet" }, CodeInvalidField, []string{"body.type"}},
		{"unknown minisite", KindResource, func(c, b map[string]any) { b["minisites"] = []any{"sid", "bik"} }, CodeInvalidField, []string{"body.minisites[1]"}},
		{"bad language tag", KindResource, func(c, b map[string]any) { b["language"] = "english" }, CodeInvalidField, []string{"body.language"}},
		{"language tag with underscore", KindResource, func(c, b map[string]any) { b["languages"] = []any{"en", "nl_BE"} }, CodeInvalidField, []string{"body.languages[1]"}},
		{"language tag not canonical", KindResource, func(c, b map[string]any) { b["language"] = "EN" }, CodeInvalidField, []string{"body.language"}},
		{"no languages", KindResource, func(c, b map[string]any) { delete(b, "languages") }, CodeInvalidField, []string{"body.languages"}},
		{"title blank", KindResource, func(c, b map[string]any) { b["title"] = "  " }, CodeInvalidField, []string{"body.title"}},
		{"title too long", KindResource, func(c, b map[string]any) { b["title"] = strings.Repeat("x", MaxShortField+1) }, CodeInvalidField, []string{"body.title"}},
		{"javascript URL", KindResource, func(c, b map[string]any) { b["url"] = "javascript:alert(1)" }, CodeInvalidField, []string{"body.url"}},
		{"relative URL", KindResource, func(c, b map[string]any) { b["url"] = "/resources/1" }, CodeInvalidField, []string{"body.url"}},
		{"every invalid field at once", KindResource, func(c, b map[string]any) { b["title"] = ""; b["type"] = "zine"; c["seq"] = 0 }, CodeInvalidField, []string{"seq", "body.title", "body.type"}},
		// Translation.
		{"translation of no resource", KindTranslation, func(c, b map[string]any) { b["resource"] = "resource-1" }, CodeInvalidField, []string{"body.resource"}},
		{"translation source version 0", KindTranslation, func(c, b map[string]any) { b["source_version"] = 0 }, CodeInvalidField, []string{"body.source_version"}},
		{"translation method", KindTranslation, func(c, b map[string]any) { b["method"] = "ai" }, CodeInvalidField, []string{"body.method"}},
		{"translation review", KindTranslation, func(c, b map[string]any) { b["review"] = "outdated" }, CodeInvalidField, []string{"body.review"}},
		{"translation language", KindTranslation, func(c, b map[string]any) { b["language"] = "nl-be" }, CodeInvalidField, []string{"body.language"}},
		// Post.
		{"post visibility/space mismatch", KindPost, func(c, b map[string]any) { c["visibility"] = "public" }, CodeVisibilityMismatch, []string{"visibility"}},
		{"youth post not youth", KindPost, func(c, b map[string]any) { b["space"] = "youth" }, CodeVisibilityMismatch, []string{"visibility"}},
		{"national youth post not youth", KindPost, func(c, b map[string]any) { b["space"] = "youth:be" }, CodeVisibilityMismatch, []string{"visibility"}},
		{"blog post public", KindPost, func(c, b map[string]any) { b["space"] = "blog"; c["visibility"] = "public" }, CodeVisibilityMismatch, []string{"visibility"}},
		{"news post by a node", KindPost, func(c, b map[string]any) { b["space"] = "news"; c["visibility"] = "public" }, CodeInvalidSpace, []string{"body.space"}},
		{"unknown space", KindPost, func(c, b map[string]any) { b["space"] = "general" }, CodeInvalidSpace, []string{"body.space"}},
		{"the hub's national youth space", KindPost, func(c, b map[string]any) {
			c["owner"], c["id"], c["key_id"], c["visibility"] = "hub", "hub:01JKT3S9HREHT78X3MEHT78X3M", "hub-cefdc15aab03ee79", "youth"
			b["space"], b["author"] = "youth:hub", map[string]any{"name": "BIK team", "sic": "hub"}
		}, CodeInvalidSpace, []string{"body.space"}},
		{"national youth space without its SIC", KindPost, func(c, b map[string]any) { b["space"] = "youth:" }, CodeInvalidSpace, []string{"body.space"}},
		{"another SIC's national youth space", KindPost, func(c, b map[string]any) { b["space"] = "youth:pt"; c["visibility"] = "youth" }, CodeInvalidSpace, []string{"body.space"}},
		{"post format", KindPost, func(c, b map[string]any) { b["format"] = "wiki" }, CodeInvalidField, []string{"body.format"}},
		{"post without author", KindPost, func(c, b map[string]any) { delete(b, "author") }, CodeInvalidField, []string{"body.author"}},
		{"post author as a string", KindPost, func(c, b map[string]any) { b["author"] = "Els" }, CodeMalformedJSON, nil},
		{"post author with an unknown member", KindPost, func(c, b map[string]any) { b["author"] = map[string]any{"name": "Els", "sic": "be", "email": "e@x"} }, CodeMalformedJSON, nil},
		{"post author without a name", KindPost, func(c, b map[string]any) { b["author"] = map[string]any{"sic": "be"} }, CodeInvalidField, []string{"body.author.name"}},
		{"post author of another SIC", KindPost, func(c, b map[string]any) { b["author"] = map[string]any{"name": "Els", "sic": "fr"} }, CodeInvalidAuthor, []string{"body.author.sic"}},
		{"forged author outranks other errors", KindPost, func(c, b map[string]any) {
			b["author"] = map[string]any{"name": "Els", "sic": "fr"}
			b["space"] = "general"
		}, CodeInvalidAuthor, []string{"body.space", "body.author.sic"}},
		{"pseudonym in a staff space", KindPost, func(c, b map[string]any) { b["author"] = map[string]any{"pseudonym": "be-sam"} }, CodeInvalidField, []string{"body.author.pseudonym"}},
		{"pseudonym of another SIC", KindPost, func(c, b map[string]any) {
			c["visibility"], b["space"], b["author"] = "youth", "youth", map[string]any{"pseudonym": "fr-sam"}
		}, CodeInvalidAuthor, []string{"body.author.pseudonym"}},
		{"pseudonym without its SIC", KindPost, func(c, b map[string]any) {
			c["visibility"], b["space"], b["author"] = "youth", "youth", map[string]any{"pseudonym": "sam"}
		}, CodeInvalidAuthor, []string{"body.author.pseudonym"}},
		{"pseudonym with capitals", KindPost, func(c, b map[string]any) {
			c["visibility"], b["space"], b["author"] = "youth", "youth", map[string]any{"pseudonym": "be-Sam"}
		}, CodeInvalidField, []string{"body.author.pseudonym"}},
		{"pseudonym with a double hyphen", KindPost, func(c, b map[string]any) {
			c["visibility"], b["space"], b["author"] = "youth", "youth", map[string]any{"pseudonym": "be-sam--x"}
		}, CodeInvalidField, []string{"body.author.pseudonym"}},
		{"pseudonym handle too long", KindPost, func(c, b map[string]any) {
			c["visibility"], b["space"], b["author"] = "youth", "youth", map[string]any{"pseudonym": "be-" + strings.Repeat("s", MaxHandleLen+1)}
		}, CodeInvalidField, []string{"body.author.pseudonym"}},
		{"pseudonym and name", KindPost, func(c, b map[string]any) {
			c["visibility"], b["space"], b["author"] = "youth", "youth", map[string]any{"pseudonym": "be-sam", "name": "Sam", "sic": "be"}
		}, CodeInvalidField, []string{"body.author"}},
		{"comment author of another SIC", KindComment, func(c, b map[string]any) { b["author"] = map[string]any{"name": "Mikko", "sic": "fi"} }, CodeInvalidAuthor, []string{"body.author.sic"}},
		{"pseudonym in a staff comment", KindComment, func(c, b map[string]any) { b["author"] = map[string]any{"pseudonym": "be-sam"} }, CodeInvalidField, []string{"body.author.pseudonym"}},
		{"youth comment by another SIC's pseudonym", KindComment, func(c, b map[string]any) {
			c["visibility"], b["author"] = "youth", map[string]any{"pseudonym": "pt-sam"}
		}, CodeInvalidAuthor, []string{"body.author.pseudonym"}},
		{"comment without author", KindComment, func(c, b map[string]any) { delete(b, "author") }, CodeInvalidField, []string{"body.author"}},
		{"post tag too long", KindPost, func(c, b map[string]any) { b["tags"] = []any{strings.Repeat("t", 65)} }, CodeInvalidField, []string{"body.tags[0]"}},
		// Comment.
		{"public comment", KindComment, func(c, b map[string]any) { c["visibility"] = "public" }, CodeInvalidField, []string{"visibility"}},
		{"comment on no post", KindComment, func(c, b map[string]any) { b["post"] = "" }, CodeInvalidField, []string{"body.post"}},
		{"comment text blank", KindComment, func(c, b map[string]any) { b["text"] = "\n\t" }, CodeInvalidField, []string{"body.text"}},
		// Profile.
		{"profile not public", KindProfile, func(c, b map[string]any) { c["visibility"] = "community" }, CodeInvalidField, []string{"visibility"}},
		{"profile country uppercase", KindProfile, func(c, b map[string]any) { b["country"] = "BE" }, CodeInvalidField, []string{"body.country"}},
		{"profile country alpha-3", KindProfile, func(c, b map[string]any) { b["country"] = "bel" }, CodeInvalidField, []string{"body.country"}},
		{"helpline unreachable", KindProfile, func(c, b map[string]any) {
			b["helpline"] = map[string]any{"name": "Helpline", "hours": "always"}
		}, CodeInvalidField, []string{"body.helpline"}},
		{"hotline without report URL", KindProfile, func(c, b map[string]any) { b["hotline"] = map[string]any{"name": "Hotline"} }, CodeInvalidField, []string{"body.hotline.report_url"}},
		{"hotline report URL not a URL", KindProfile, func(c, b map[string]any) {
			b["hotline"] = map[string]any{"name": "Hotline", "report_url": "report here"}
		}, CodeInvalidField, []string{"body.hotline.report_url"}},
		// Service.
		{"service without URL", KindService, func(c, b map[string]any) { delete(b, "url") }, CodeInvalidField, []string{"body.url"}},
		{"service minimum age", KindService, func(c, b map[string]any) { b["minimum_age"] = 100 }, CodeInvalidField, []string{"body.minimum_age"}},
		{"service category missing", KindService, func(c, b map[string]any) { delete(b, "category") }, CodeInvalidField, []string{"body.category"}},
		// Moderation.
		{"public moderation", KindModeration, func(c, b map[string]any) { c["visibility"] = "public" }, CodeInvalidField, []string{"visibility"}},
		{"moderation decision", KindModeration, func(c, b map[string]any) { b["decision"] = "delete" }, CodeInvalidField, []string{"body.decision"}},
		{"moderation target", KindModeration, func(c, b map[string]any) { b["target"] = "be" }, CodeInvalidField, []string{"body.target"}},
		{"moderation of the hub's own entity", KindModeration, func(c, b map[string]any) { b["target"] = "hub:01JKT3SCFGWFHY7RZ3WFHY7RZ3" }, CodeInvalidField, []string{"body.target"}},
		{"hide without a reason", KindModeration, func(c, b map[string]any) { b["decision"] = "hide"; b["reason"] = " " }, CodeInvalidField, []string{"body.reason"}},
		{"moderation reason too long", KindModeration, func(c, b map[string]any) {
			b["decision"] = "restore"
			b["reason"] = strings.Repeat("x", MaxModerationReason+1)
		}, CodeInvalidField, []string{"body.reason"}},
		// Flag.
		{"public flag", KindFlag, func(c, b map[string]any) { c["visibility"] = "public" }, CodeInvalidField, []string{"visibility"}},
		{"flag reason", KindFlag, func(c, b map[string]any) { b["reason"] = "dislike" }, CodeInvalidField, []string{"body.reason"}},
		{"other without words", KindFlag, func(c, b map[string]any) { b["reason"] = "other"; delete(b, "text") }, CodeInvalidField, []string{"body.text"}},
		{"flag text too long", KindFlag, func(c, b map[string]any) { b["text"] = strings.Repeat("x", MaxFlagText+1) }, CodeInvalidField, []string{"body.text"}},
		{"flag target", KindFlag, func(c, b map[string]any) { b["target"] = "fi" }, CodeInvalidField, []string{"body.target"}},
		{"flag of itself", KindFlag, func(c, b map[string]any) { b["target"] = c["id"] }, CodeInvalidField, []string{"body.target"}},
		{"flag in another SIC's name", KindFlag, func(c, b map[string]any) { b["author"] = map[string]any{"name": "Mikko", "sic": "fi"} }, CodeInvalidAuthor, []string{"body.author.sic"}},
		{"pseudonym flags in a staff space", KindFlag, func(c, b map[string]any) { b["author"] = map[string]any{"pseudonym": "be-sam"} }, CodeInvalidField, []string{"body.author.pseudonym"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			raw := mutate(t, golden(t, tc.kind), tc.edit)
			_, err := ParseChange(raw)
			if err == nil {
				t.Fatalf("ParseChange accepted %s", raw)
			}
			if got := ErrorCode(err); got != tc.code {
				t.Fatalf("code %q, want %q (%v)", got, tc.code, err)
			}
			if !errors.Is(err, &Error{Code: tc.code}) {
				t.Fatalf("errors.Is(%v, %s) = false", err, tc.code)
			}
			if tc.code != CodeInvalidField {
				return
			}
			if got := fieldsOf(err); !slices.Equal(got, tc.fields) {
				t.Fatalf("fields %q, want %q (%v)", got, tc.fields, err)
			}
		})
	}
}

// repeatedTopics names what "too many topics, one repeated" is refused for:
// the list's length, each repeat of a topic in it, and the unknown topic.
func repeatedTopics() []string {
	fields := []string{"body.topics"}
	for i := len(Topics); i < MaxListLen+1; i++ {
		fields = append(fields, fmt.Sprintf("body.topics[%d]", i))
	}
	return append(fields, fmt.Sprintf("body.topics[%d]", MaxListLen+1))
}

// blob returns the first attachment of a generic change.
func blob(c map[string]any) map[string]any { return c["blobs"].([]any)[0].(map[string]any) }

func TestChange_Validate_accepts(t *testing.T) {
	tests := []struct {
		name string
		kind Kind
		edit func(c, body map[string]any)
	}{
		{"tombstone", KindResource, func(c, b map[string]any) { c["deleted"] = true; delete(c, "body") }},
		{"tombstone with null body", KindPost, func(c, b map[string]any) { c["deleted"] = true; c["body"] = nil }},
		{"erasure", KindResource, func(c, b map[string]any) {
			c["deleted"], c["erased"] = true, true
			delete(c, "body")
			delete(c, "blobs")
		}},
		{"hub news post", KindPost, func(c, b map[string]any) {
			c["owner"], c["id"], c["key_id"], c["visibility"] = "hub", "hub:01JKT3S9HREHT78X3MEHT78X3M", "hub-cefdc15aab03ee79", "public"
			b["space"], b["format"], b["author"] = "news", "blog", map[string]any{"name": "BIK team", "sic": "hub"}
		}},
		{"youth post", KindPost, func(c, b map[string]any) { c["visibility"] = "youth"; b["space"] = "youth" }},
		{"youth post by a young person", KindPost, func(c, b map[string]any) {
			c["visibility"], b["space"], b["author"] = "youth", "youth", map[string]any{"pseudonym": "be-sam-2"}
		}},
		{"national youth post by a young person", KindPost, func(c, b map[string]any) {
			c["visibility"], b["space"], b["author"] = "youth", "youth:be", map[string]any{"pseudonym": "be-" + strings.Repeat("s", MaxHandleLen)}
		}},
		{"national youth post by a coordinator", KindPost, func(c, b map[string]any) { c["visibility"] = "youth"; b["space"] = "youth:be" }},
		{"blog post", KindPost, func(c, b map[string]any) { b["space"] = "blog" }},
		{"youth comment by a young person", KindComment, func(c, b map[string]any) {
			c["visibility"], b["author"] = "youth", map[string]any{"pseudonym": "be-sam"}
		}},
		{"hub comment by the coordination team", KindComment, func(c, b map[string]any) {
			c["owner"], c["id"], c["key_id"] = "hub", "hub:01JKT3SAH0K6CSK6CSK6CSK6CS", "hub-cefdc15aab03ee79"
			b["author"] = map[string]any{"name": "BIK team", "sic": "hub"}
		}},
		{"scheduled", KindResource, func(c, b map[string]any) { c["publish_at"] = "2026-02-10T08:00:00+01:00" }},
		{"community resource", KindResource, func(c, b map[string]any) { c["visibility"] = "community" }},
		{"zero age range", KindResource, func(c, b map[string]any) { b["age_min"], b["age_max"] = 0, 0 }},
		{"no optional fields", KindResource, func(c, b map[string]any) {
			delete(b, "licence")
			delete(b, "url")
			delete(b, "minisites")
			delete(b, "description")
			delete(c, "blobs")
		}},
		{"blob name with spaces and accents", KindResource, func(c, b map[string]any) { blob(c)["name"] = "Fiche conseils élèves (v2).pdf" }},
		{"empty blob", KindResource, func(c, b map[string]any) { blob(c)["size"] = 0 }},
		{"media type with parameters", KindResource, func(c, b map[string]any) { blob(c)["media_type"] = "text/plain; charset=utf-8" }},
		{"mailto and tel URLs", KindProfile, func(c, b map[string]any) {
			b["helpline"] = map[string]any{"name": "Helpline", "chat": "mailto:help@example.org", "url": "tel:+32116000"}
		}},
		{"profile of hub", KindProfile, func(c, b map[string]any) {
			c["owner"], c["id"], c["key_id"] = "hub", "hub:01JKT3SBG8QTZBXFNYQTZBXFNY", "hub-cefdc15aab03ee79"
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			raw := mutate(t, golden(t, tc.kind), tc.edit)
			if _, err := ParseChange(raw); err != nil {
				t.Fatalf("ParseChange(%s): %v", raw, err)
			}
		})
	}
}

func TestParseChange(t *testing.T) {
	res := golden(t, KindResource)
	tests := []struct {
		name string
		raw  string
		code Code
	}{
		{"empty", "", CodeMalformedJSON},
		{"not JSON", "change", CodeMalformedJSON},
		{"array", "[]", CodeMalformedJSON},
		{"truncated", string(res[:len(res)-1]), CodeMalformedJSON},
		{"two objects", string(res) + string(res), CodeMalformedJSON},
		{"trailing garbage", string(res) + "x", CodeMalformedJSON},
		{"trailing bracket", string(res) + "]", CodeMalformedJSON},
		{"trailing brace", string(res) + "}", CodeMalformedJSON},
		{"too large", `{"v":1,"id":"` + strings.Repeat("x", MaxChangeBytes) + `"}`, CodeRecordTooLarge},
		{"newline between members", strings.Replace(string(res), `,"kind"`, ",\n\"kind\"", 1), CodeMalformedJSON},
		{"carriage return between members", strings.Replace(string(res), `,"kind"`, ",\r\"kind\"", 1), CodeMalformedJSON},
		{"invalid UTF-8", strings.Replace(string(res), "Cyberbullying:", "Cyberbullying\xff:", 1), CodeMalformedJSON},
		{"duplicate member", strings.Replace(string(res), `"visibility":"public"`, `"visibility":"community","visibility":"public"`, 1), CodeMalformedJSON},
		{"duplicate body member", strings.Replace(string(res), `"age_min":8`, `"age_min":18,"age_min":8`, 1), CodeMalformedJSON},
		{"member name in other case", strings.Replace(string(res), `"visibility":"public"`, `"Visibility":"public"`, 1), CodeMalformedJSON},
		{"member name folding to a field", strings.Replace(string(res), `"seq":42`, `"ſeq":42`, 1), CodeMalformedJSON},
		{"member name with Kelvin sign", strings.Replace(string(res), `"kind":"resource"`, `"\u212aind":"resource"`, 1), CodeMalformedJSON},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseChange([]byte(tc.raw))
			if got := ErrorCode(err); err == nil || got != tc.code {
				t.Fatalf("ParseChange: %v (code %q), want code %q", err, got, tc.code)
			}
		})
	}
	t.Run("spacing and escapes", func(t *testing.T) {
		// Insignificant spaces and tabs, escaped member names and raw HTML
		// characters are valid JSON and accepted as they are.
		raw := strings.NewReplacer(
			`,"kind":`, " ,\t\"kind\" :  ",
			`"title":"Cyberbullying: what parents can do"`, `"t\u0069tle" : "Cyberbullying <what> parents & carers can do"`,
		).Replace(string(res))
		c, err := ParseChange([]byte("  " + raw + " \t"))
		if err != nil {
			t.Fatalf("ParseChange: %v", err)
		}
		b, err := DecodeBody(c.Kind, c.Body)
		if err != nil {
			t.Fatal(err)
		}
		if got := b.(*Resource).Title; got != "Cyberbullying <what> parents & carers can do" {
			t.Fatalf("title %q", got)
		}
	})
	t.Run("returns the change with its validation error", func(t *testing.T) {
		raw := mutate(t, res, func(c, b map[string]any) { c["seq"] = 0 })
		c, err := ParseChange(raw)
		if err == nil || c == nil || c.ID != "be:01JKT3S6M00M2GA1850M2GA185" {
			t.Fatalf("ParseChange = %v, %v; want the change and an error", c, err)
		}
	})
}

func TestDecodeBody(t *testing.T) {
	if _, err := DecodeBody("calendar", []byte(`{}`)); !errors.Is(err, ErrUnknownKind) {
		t.Fatalf("unknown kind: %v", err)
	}
	if _, err := DecodeBody(KindComment, []byte(`{"post":"be:01JKT3S6M00M2GA1850M2GA185","extra":1}`)); !errors.Is(err, ErrMalformedJSON) {
		t.Fatalf("unknown field: %v", err)
	}
	for _, kind := range Kinds {
		c, err := ParseChange(golden(t, kind))
		if err != nil {
			t.Fatal(err)
		}
		b, err := DecodeBody(kind, c.Body)
		if err != nil {
			t.Fatalf("%s: %v", kind, err)
		}
		again, _ := json.Marshal(b)
		if string(again) != string(c.Body) {
			t.Fatalf("%s body does not round-trip:\n got %s\nwant %s", kind, again, c.Body)
		}
	}
}

func TestValidationError(t *testing.T) {
	err := error(&ValidationError{Code: CodeInvalidField, Fields: []FieldError{{"body.title", "required"}, {"seq", "must be at least 1"}}})
	if !errors.Is(err, ErrInvalidField) {
		t.Fatal("ValidationError does not match ErrInvalidField")
	}
	if errors.Is(err, ErrMalformedJSON) {
		t.Fatal("ValidationError matches another code")
	}
	// The hub turns any error into a refusal or response with ErrorCode and
	// errors.As; a validation error must not come out as internal.
	if got := ErrorCode(fmt.Errorf("verify: %w", err)); got != CodeInvalidField {
		t.Fatalf("ErrorCode(ValidationError) = %q, want %q", got, CodeInvalidField)
	}
	var pe *Error
	if !errors.As(err, &pe) || pe.Code != CodeInvalidField || pe.Message != err.Error() {
		t.Fatalf("errors.As(ValidationError, *Error) = %+v", pe)
	}
	if got, want := err.Error(), "body.title: required; seq: must be at least 1"; got != want {
		t.Fatalf("Error() = %q, want %q", got, want)
	}
	wire := err.(*ValidationError).AsError()
	if wire.Code != CodeInvalidField || wire.Message != err.Error() {
		t.Fatalf("AsError = %+v", wire)
	}
	wrapped := errors.Join(errors.New("push"), err)
	if !errors.Is(wrapped, ErrInvalidField) {
		t.Fatal("wrapped ValidationError does not match ErrInvalidField")
	}
}

func TestKind(t *testing.T) {
	for _, k := range Kinds {
		if !k.Known() {
			t.Errorf("%s not known", k)
		}
	}
	if Kind("Resource").Known() || Kind("").Known() {
		t.Error("unknown kinds reported known")
	}
	for k, want := range map[Kind]bool{KindService: true, KindModeration: true, KindResource: false, KindPost: false, KindProfile: false} {
		if k.HubOnly() != want {
			t.Errorf("%s.HubOnly() = %v", k, !want)
		}
	}
}

func TestValidBlobName(t *testing.T) {
	for _, name := range []string{"guide.pdf", "Fiche élèves.pdf", "a", ".hidden", "v1.2.pdf"} {
		if err := ValidBlobName(name); err != nil {
			t.Errorf("ValidBlobName(%q): %v", name, err)
		}
	}
	for _, name := range []string{"", ".", "..", "../etc/passwd", "a/b", `a\b`, "a..b", "/abs", "x\ny", "x\u0085y", "\xff", strings.Repeat("a", 256), "invoice\u202Efdp.exe", "a\u2066b"} {
		if err := ValidBlobName(name); err == nil {
			t.Errorf("ValidBlobName(%q) accepted", name)
		}
	}
}

func TestCheckStrictJSON(t *testing.T) {
	tests := []struct {
		name string
		raw  string
		ok   bool
	}{
		{"object", `{"a":1,"b":"x","c":[1,2,{"a":null}],"d":{"a":true}}`, true},
		{"spaces and tabs", " {\t\"a\" : [ ] , \"b\" :{ } } \t", true},
		{"same name in sibling objects", `{"a":[{"x":1},{"x":2}],"b":{"x":3}}`, true},
		{"same name at two depths", `{"x":{"x":{"x":1}}}`, true},
		{"escaped name", `{"t\u0069tle":"x"}`, true},
		{"strings with delimiters", `{"a":"{[,:]}\"\\","b":"\u0022"}`, true},
		{"duplicate", `{"a":1,"b":2,"a":1}`, false},
		{"duplicate after nested object", `{"a":{"b":1,"c":2},"a":3}`, false},
		{"duplicate in nested object", `{"a":[{"b":1},{"c":1,"c":2}]}`, false},
		{"duplicate through an escape", `{"seq":1,"s\u0065q":2}`, false},
		{"upper case", `{"A":1}`, false},
		{"long s", `{"ſeq":1}`, false},
		{"escaped upper case", `{"\u0041":1}`, false},
		{"empty name", `{"":1}`, false},
		{"hyphen", `{"a-b":1}`, false},
		{"line feed", "{\"a\":\n1}", false},
		{"carriage return", "{\"a\":1}\r", false},
		{"invalid UTF-8", "{\"a\":\"\xc3\"}", false},
		{"trailing value", `{"a":1} 2`, false},
		{"trailing object", `{"a":1}{}`, false},
		{"trailing brace", `{"a":1}}`, false},
		{"trailing bracket", `{"a":1}]`, false},
		{"too many members", `{` + manyMembers(65) + `}`, false},
		{"64 members", `{` + manyMembers(64) + `}`, true},
		{"deep", strings.Repeat(`{"a":[`, 100) + strings.Repeat(`]}`, 100), true},
		{"array", `[{"a":1}]`, false},
		{"scalar", `0`, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := checkStrictJSON([]byte(tc.raw))
			if (err == nil) != tc.ok {
				t.Fatalf("checkStrictJSON(%s) = %v, want ok=%v", tc.raw, err, tc.ok)
			}
			if ref := strictReference([]byte(tc.raw)); (ref == nil) != tc.ok && !strings.Contains(tc.name, "members") && tc.raw[0] == '{' {
				t.Fatalf("reference disagrees: %v", ref)
			}
		})
	}
}

func manyMembers(n int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `"m%d":%d`, i, i)
	}
	return b.String()
}

// strictReference is checkStrictJSON written the slow, obvious way with
// json.Decoder.Token, to check the fast one against.
func strictReference(raw []byte) error {
	if bytes.ContainsAny(raw, "\r\n") {
		return errors.New("line break")
	}
	if !utf8.Valid(raw) {
		return errors.New("not UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var open []map[string]bool // nil for arrays
	expectName := false
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			if len(open) != 0 {
				return io.ErrUnexpectedEOF
			}
			return nil
		}
		if err != nil {
			return err
		}
		switch tok {
		case json.Delim('{'):
			open = append(open, map[string]bool{})
			expectName = true
			continue
		case json.Delim('['):
			open = append(open, nil)
			expectName = false
			continue
		case json.Delim('}'), json.Delim(']'):
			open = open[:len(open)-1]
			if len(open) == 0 && dec.More() {
				return errors.New("data after the value")
			}
			expectName = len(open) > 0 && open[len(open)-1] != nil
			continue
		}
		if expectName {
			name := tok.(string)
			if !plainMemberName([]byte(name)) {
				return fmt.Errorf("name %q", name)
			}
			if open[len(open)-1][name] {
				return fmt.Errorf("repeated %q", name)
			}
			open[len(open)-1][name] = true
			expectName = false
			continue
		}
		expectName = len(open) > 0 && open[len(open)-1] != nil
	}
}

func TestDecodeChangeFast(t *testing.T) {
	t.Run("takes what json.Marshal writes", func(t *testing.T) {
		// Otherwise every change would go the slow way, correctly but at
		// several times the cost.
		for _, kind := range Kinds {
			if _, _, ok := decodeChangeFast(golden(t, kind)); !ok {
				t.Errorf("golden %s goes the slow way", kind)
			}
		}
		pub := time.Date(2026, 2, 10, 8, 0, 0, 0, time.UTC)
		c := &Change{Protocol: Version, ID: "be:01JKT3S6M00M2GA1850M2GA185", Kind: KindPost, Owner: "be", Version: 2, Seq: 7,
			UpdatedAt: time.Now(), Visibility: VisibilityPublic, PublishAt: &pub, Deleted: true, Erased: true, KeyID: "be-81bcc3dfb9ba630c",
			Body: json.RawMessage(`{"space":"news","format":"blog","title":"<Safer> & \"you\" \u2028 été","text":"x","language":"fr","author":{"name":"a","sic":"hub"},"tags":[]}`)}
		raw, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		// Members in any order, as encoders that sort them write them.
		sorted := mutate(t, golden(t, KindResource), func(c, body map[string]any) {})
		if _, _, ok := decodeChangeFast(sorted); !ok {
			t.Errorf("%s goes the slow way", sorted)
		}
		got, body, ok := decodeChangeFast(raw)
		if !ok {
			t.Fatalf("%s goes the slow way", raw)
		}
		if p := body.(*Post); p.Title != "<Safer> & \"you\" \u2028 été" || got.PublishAt == nil || !got.PublishAt.Equal(pub) || !got.Erased {
			t.Fatalf("decoded %+v with body %+v", got, p)
		}
	})
	t.Run("leaves the rest to encoding/json", func(t *testing.T) {
		res := string(golden(t, KindResource))
		for name, raw := range map[string]string{
			"space":             strings.Replace(res, `,"kind"`, `, "kind"`, 1),
			"null":              strings.Replace(res, `"licence":"CC-BY-4.0"`, `"licence":null`, 1),
			"unknown member":    strings.Replace(res, `"v":1`, `"v":1,"x":1`, 1),
			"repeated member":   strings.Replace(res, `"v":1`, `"v":1,"v":1`, 1),
			"upper case member": strings.Replace(res, `"seq"`, `"Seq"`, 1),
			"fraction":          strings.Replace(res, `"age_min":8`, `"age_min":8.0`, 1),
			"leading zero":      strings.Replace(res, `"age_min":8`, `"age_min":08`, 1),
			"huge number":       strings.Replace(res, `"seq":42`, `"seq":9223372036854775808`, 1),
			"surrogate escape":  strings.Replace(res, `Cyberbullying:`, `Cyberbullying\ud83d\ude00:`, 1),
			"invalid UTF-8":     strings.Replace(res, `Cyberbullying:`, "Cyberbullying\xff:", 1),
			"raw control":       strings.Replace(res, `Cyberbullying:`, "Cyberbullying\x01:", 1),
			"trailing data":     res + " ",
			"body without kind": strings.Replace(res, `"kind":"resource",`, ``, 1),
			"broken body first": `{"body":{"title":"x"]],"kind":"resource"}`,
			"string for number": strings.Replace(res, `"age_min":8`, `"age_min":"8"`, 1),
		} {
			if _, _, ok := decodeChangeFast([]byte(raw)); ok {
				t.Errorf("%s: fast decoder accepted %s", name, raw)
			}
		}
	})
	t.Run("tables name the types' members", func(t *testing.T) {
		// A member the fast decoder accepts but the type no longer has would
		// be accepted silently; one it does not know only costs speed. Keep
		// both sides in step.
		check := func(typ reflect.Type, names []string) {
			var want []string
			for f := range typ.Fields() {
				if tag := strings.Split(f.Tag.Get("json"), ",")[0]; tag != "" && tag != "-" {
					want = append(want, tag)
				}
			}
			slices.Sort(want)
			names = slices.Clone(names)
			slices.Sort(names)
			if !slices.Equal(names, want) {
				t.Errorf("fast decoder of %s knows %v, the type has %v: update the table in change.go", typ, names, want)
			}
		}
		check(reflect.TypeFor[Change](), fastNames(changeFields))
		check(reflect.TypeFor[BlobRef](), fastNames(blobFields))
		check(reflect.TypeFor[Resource](), fastNames(resourceFields))
		check(reflect.TypeFor[Translation](), fastNames(translationFields))
		check(reflect.TypeFor[Post](), fastNames(postFields))
		check(reflect.TypeFor[Comment](), fastNames(commentFields))
		check(reflect.TypeFor[Profile](), fastNames(profileFields))
		check(reflect.TypeFor[Awareness](), fastNames(awarenessFields))
		check(reflect.TypeFor[Helpline](), fastNames(helplineFields))
		check(reflect.TypeFor[Hotline](), fastNames(hotlineFields))
		check(reflect.TypeFor[YouthPanel](), fastNames(youthPanelFields))
		check(reflect.TypeFor[Service](), fastNames(serviceFields))
		check(reflect.TypeFor[ServiceVersion](), fastNames(serviceVersionFields))
		check(reflect.TypeFor[Moderation](), fastNames(moderationFields))
		check(reflect.TypeFor[Event](), fastNames(eventFields))
		check(reflect.TypeFor[EventPlace](), fastNames(eventPlaceFields))
	})
}

func fastNames[T any](fields []fastField[T]) []string {
	var out []string
	for _, f := range fields {
		out = append(out, f.name)
	}
	return out
}

func TestChange_Validate_bidiControls(t *testing.T) {
	sub := func(m map[string]any, key string) map[string]any { return m[key].(map[string]any) }
	fields := []struct {
		kind  Kind
		field string
		set   func(c, b map[string]any, s string)
	}{
		{KindResource, "body.title", func(c, b map[string]any, s string) { b["title"] = s }},
		{KindTranslation, "body.title", func(c, b map[string]any, s string) { b["title"] = s }},
		{KindPost, "body.title", func(c, b map[string]any, s string) { b["title"] = s }},
		{KindPost, "body.author.name", func(c, b map[string]any, s string) { sub(b, "author")["name"] = s }},
		{KindComment, "body.author.name", func(c, b map[string]any, s string) { sub(b, "author")["name"] = s }},
		{KindProfile, "body.name", func(c, b map[string]any, s string) { b["name"] = s }},
		{KindProfile, "body.awareness.name", func(c, b map[string]any, s string) { sub(b, "awareness")["name"] = s }},
		{KindProfile, "body.helpline.name", func(c, b map[string]any, s string) { sub(b, "helpline")["name"] = s }},
		{KindProfile, "body.hotline.name", func(c, b map[string]any, s string) { sub(b, "hotline")["name"] = s }},
		{KindProfile, "body.youth_panel.name", func(c, b map[string]any, s string) { sub(b, "youth_panel")["name"] = s }},
		{KindService, "body.name", func(c, b map[string]any, s string) { b["name"] = s }},
		{KindResource, "blobs[0].name", func(c, b map[string]any, s string) { blob(c)["name"] = s + ".pdf" }},
	}
	controls := []rune{0x202A, 0x202B, 0x202C, 0x202D, 0x202E, 0x2066, 0x2067, 0x2068, 0x2069}
	for _, f := range fields {
		for _, r := range controls {
			t.Run(fmt.Sprintf("%s %s U+%04X", f.kind, f.field, r), func(t *testing.T) {
				raw := mutate(t, golden(t, f.kind), func(c, b map[string]any) { f.set(c, b, "invoice"+string(r)+"fdp.exe") })
				_, err := ParseChange(raw)
				if ErrorCode(err) != CodeInvalidField {
					t.Fatalf("err = %v, want invalid_field", err)
				}
				if got := fieldsOf(err); !slices.Equal(got, []string{f.field}) {
					t.Fatalf("fields %q, want [%s] (%v)", got, f.field, err)
				}
			})
		}
	}
	// Right-to-left text itself, and the marks that are not embeddings,
	// overrides or isolates, stay allowed.
	for _, title := range []string{"מדריך להורים", "دليل الآباء", "Guide \u200fالآباء\u200e"} {
		raw := mutate(t, golden(t, KindResource), func(c, b map[string]any) { b["title"] = title })
		if _, err := ParseChange(raw); err != nil {
			t.Errorf("title %q: %v", title, err)
		}
	}
}
