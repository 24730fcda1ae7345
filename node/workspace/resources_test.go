package workspace

import (
	"bytes"
	"errors"
	"io"
	"net/url"
	"testing"
	"time"
	_ "time/tzdata" // the zone must not depend on the host having zoneinfo

	"github.com/bikfed/bikfed/internal/locale"
	"github.com/bikfed/bikfed/protocol"
)

func TestFormField(t *testing.T) {
	tests := []struct{ in, want string }{
		{"body.title", "title"},
		{"body.age_max", "age_max"},
		{"body.languages[2]", "languages"},
		{"visibility", "visibility"},
		{"blobs[0].name", "files"},
		{"blobs", "files"},
		{"owner", "general"},
		{"body", "general"},
	}
	for _, tt := range tests {
		if got := formField(tt.in); got != tt.want {
			t.Errorf("formField(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestParseLocal(t *testing.T) {
	brussels, err := time.LoadLocation("Europe/Brussels")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		in   string
		want time.Time
		ok   bool
	}{
		{"2027-02-10T08:00", time.Date(2027, 2, 10, 7, 0, 0, 0, time.UTC), true},
		{"2027-07-10T08:00:30", time.Date(2027, 7, 10, 6, 0, 30, 0, time.UTC), true},
		{"10/02/2027 08:00", time.Time{}, false},
		{"2027-02-30T08:00", time.Time{}, false},
	}
	for _, tt := range tests {
		got, err := parseLocal(tt.in, brussels)
		if (err == nil) != tt.ok || tt.ok && !got.Equal(tt.want) {
			t.Errorf("parseLocal(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
}

func TestResourceInput_Draft(t *testing.T) {
	b, err := locale.Load()
	if err != nil {
		t.Fatal(err)
	}
	p := b.Printer("en")
	in := inputFrom(url.Values{"title": {"  Kit  "}, "age_min": {"nine"}, "age_max": {"12"}, "licence": {"other"},
		"visibility": {"public"}, "publish_at": {"soon"}, "topics": {"privacy"}})
	var ps problems
	d := in.draft(p, time.UTC, &ps)
	for _, field := range []string{"age_min", "licence", "publish_at"} {
		if ps.For(field) == "" {
			t.Errorf("no problem for %s: %+v", field, ps)
		}
	}
	if ps.For("age_max") != "" || ps.For("title") != "" {
		t.Errorf("problems for valid fields: %+v", ps)
	}
	if d.Kind != protocol.KindResource || !bytes.Contains(d.Body, []byte(`"title":"Kit"`)) || !bytes.Contains(d.Body, []byte(`"languages":[]`)) {
		t.Errorf("draft body %s", d.Body)
	}
	sorted := append(problems{{Field: "publish_at"}, {Field: "title"}, {Field: "files"}}, fieldProblem{Field: "age_min"}).sorted()
	if sorted[0].Field != "title" || sorted[1].Field != "age_min" || sorted[3].Field != "files" {
		t.Errorf("error summary order: %+v", sorted)
	}
}

func TestCapReader(t *testing.T) {
	r := &capReader{r: bytes.NewReader(make([]byte, 100)), left: 100}
	if n, err := io.Copy(io.Discard, r); err != nil || n != 100 {
		t.Errorf("at the limit: %d, %v", n, err)
	}
	r = &capReader{r: bytes.NewReader(make([]byte, 101)), left: 100}
	if _, err := io.Copy(io.Discard, r); !errors.Is(err, errTooLarge) {
		t.Errorf("over the limit: %v", err)
	}
}

func TestHumanBytes(t *testing.T) {
	for n, want := range map[int64]string{999: "999 B", 1 << 20: "1 MB", 4_200_000: "4.2 MB", 8 << 30: "8.6 GB", 2_000: "2 kB"} {
		if got := humanBytes(n); got != want {
			t.Errorf("humanBytes(%d) = %q, want %q", n, got, want)
		}
	}
}
