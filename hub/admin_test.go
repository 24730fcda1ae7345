package hub

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/bikfed/bikfed/protocol"
)

func serviceBody(name string) protocol.Service {
	return protocol.Service{Name: name, Category: "social", URL: "https://example.com/" + name, MinimumAge: 13, Language: "en"}
}

func TestHub_Publish(t *testing.T) {
	th := mustOpenHub(t)
	ctx := t.Context()
	fi := th.enrolNode(t, "fi")

	id, err := th.Publish(ctx, protocol.KindService, protocol.VisibilityPublic, serviceBody("PhotoApp"))
	if err != nil {
		t.Fatal(err)
	}
	if err := th.UpdateEntity(ctx, id, "", serviceBody("PhotoApp 2")); err != nil {
		t.Fatal(err)
	}
	items, _ := pullAll(t, fi.client, 0)
	if len(items) != 1 {
		t.Fatalf("feed has %d items", len(items))
	}
	dir, _ := fi.client.Keys(ctx)
	c, err := protocol.Verify(items[0].Signed, dir.Lookup())
	if err != nil {
		t.Fatalf("hub change does not verify: %v", err)
	}
	if c.ID != id || c.Owner != protocol.HubID || c.Version != 2 || c.Seq != 2 || !strings.Contains(string(c.Body), "PhotoApp 2") {
		t.Fatalf("hub change = %+v", c)
	}

	t.Run("invalid body refused", func(t *testing.T) {
		_, err := th.Publish(ctx, protocol.KindService, protocol.VisibilityPublic, protocol.Service{Name: "x"})
		if !errors.Is(err, protocol.ErrInvalidField) {
			t.Fatalf("err = %v", err)
		}
		// The hub's outbox seq did not advance.
		id2, err := th.Publish(ctx, protocol.KindService, protocol.VisibilityPublic, serviceBody("Next"))
		if err != nil {
			t.Fatal(err)
		}
		items, _ := pullAll(t, fi.client, 2)
		if len(items) != 1 || mustChange(t, items[0].Signed).Seq != 3 || mustChange(t, items[0].Signed).ID != id2 {
			t.Fatalf("next hub change: %+v", items)
		}
	})

	t.Run("only hub-owned entities", func(t *testing.T) {
		s := fi.sign(t, fi.resource(t, "Finnish", protocol.VisibilityPublic))
		fi.mustPush(t, s)
		err := th.UpdateEntity(ctx, mustChange(t, s).ID, "", resourceBody("hijack"))
		if !errors.Is(err, protocol.ErrNotOwner) {
			t.Fatalf("err = %v", err)
		}
		if err := th.DeleteEntity(ctx, "hub:01ARZ3NDEKTSV4RRFFQ69G5FAV", false); !errors.Is(err, protocol.ErrNotFound) {
			t.Fatalf("delete missing: %v", err)
		}
	})

	t.Run("delete is a tombstone", func(t *testing.T) {
		if err := th.DeleteEntity(ctx, id, false); err != nil {
			t.Fatal(err)
		}
		if err := th.DeleteEntity(ctx, id, false); err != nil {
			t.Fatal(err)
		}
		c, err := th.storedChange(ctx, id)
		if err != nil || !c.Deleted || c.Version != 3 || c.Body != nil {
			t.Fatalf("stored after delete = %+v, %v", c, err)
		}
	})
}

func TestHub_AdminHTTP(t *testing.T) {
	th := mustOpenHub(t)
	be := th.enrolNode(t, "be")
	do := func(method, path, bearer, body string) (int, []byte) {
		t.Helper()
		req, _ := http.NewRequest(method, th.url+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+bearer)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	body := string(mustJSON(t, map[string]any{"kind": "post", "visibility": "public", "publish_at": time.Now().Add(time.Hour),
		"body": protocol.Post{Space: "news", Format: "blog", Title: "Bulletin", Text: "News", Language: "en", Author: protocol.Author{Name: "coordination", SIC: protocol.HubID}}}))

	if code, _ := do("POST", "/admin/v1/entities", be.cred, body); code != 403 {
		t.Fatalf("node may publish: %d", code)
	}
	if code, _ := do("POST", "/admin/v1/entities", "", body); code != 401 {
		t.Fatalf("anonymous may publish: %d", code)
	}
	code, b := do("POST", "/admin/v1/entities", th.AdminToken(), body)
	if code != 201 {
		t.Fatalf("publish: %d %s", code, b)
	}
	var res adminEntityResult
	json.Unmarshal(b, &res)
	if res.Version != 1 || res.HubSeq != 1 {
		t.Fatalf("publish result %s", b)
	}
	// Scheduled: not public yet.
	th.index(t)
	if code, _ := get(t, th.url+"/api/v1/entities/"+res.ID, ""); code != 404 {
		t.Fatalf("scheduled post is public: %d", code)
	}
	upd := `{"publish_at": null, "body": {"space":"news","format":"blog","title":"Bulletin","text":"News now","language":"en","author":{"name":"coordination","sic":"hub"}}}`
	if code, b := do("PUT", "/admin/v1/entities/"+res.ID, th.AdminToken(), upd); code != 200 {
		t.Fatalf("update: %d %s", code, b)
	}
	th.index(t)
	if code, b := get(t, th.url+"/api/v1/entities/"+res.ID, ""); code != 200 || !strings.Contains(string(b), "News now") {
		t.Fatalf("published post: %d %s", code, b)
	}
	if code, b := do("PUT", "/admin/v1/entities/"+res.ID, th.AdminToken(), `{"body":{"space":"news"}}`); code != 422 {
		t.Fatalf("invalid update: %d %s", code, b)
	}
	if code, b := do("DELETE", "/admin/v1/entities/"+res.ID+"?erase=1", th.AdminToken(), ""); code != 200 || !strings.Contains(string(b), `"erased":true`) {
		t.Fatalf("erase: %d %s", code, b)
	}
	th.index(t)
	if code, _ := get(t, th.url+"/api/v1/entities/"+res.ID, ""); code != 404 {
		t.Fatalf("erased post still public: %d", code)
	}
	code, b = do("POST", "/admin/v1/nodes", th.AdminToken(), `{"id":"pl","name":"Poland"}`)
	if code != 201 || !bytes.Contains(b, []byte(`"token":"pl.`)) {
		t.Fatalf("register over HTTP: %d %s", code, b)
	}
}

func TestConfig_Validate(t *testing.T) {
	valid := DefaultConfig()
	valid.DataDir = "/tmp/x"
	for _, tc := range []struct {
		name  string
		mod   func(*Config)
		field string
	}{
		{"valid", func(*Config) {}, ""},
		{"no data dir", func(c *Config) { c.DataDir = "" }, "DataDir"},
		{"bad listen", func(c *Config) { c.Listen = "8080" }, "Listen"},
		{"bad public url", func(c *Config) { c.PublicURL = "hub.example" }, "PublicURL"},
		{"short admin token", func(c *Config) { c.AdminToken = "abc" }, "AdminToken"},
		{"zero ttl", func(c *Config) { c.EnrolTokenTTL = 0 }, "EnrolTokenTTL"},
		{"long poll", func(c *Config) { c.LongPollMax = time.Hour }, "LongPollMax"},
		{"batch bytes", func(c *Config) { c.MaxBatchBytes = protocol.MaxBatchBytes + 1 }, "MaxBatchBytes"},
		{"batch changes", func(c *Config) { c.MaxBatchChanges = 0 }, "MaxBatchChanges"},
		{"request bytes", func(c *Config) { c.MaxRequestBytes = -1 }, "MaxRequestBytes"},
		{"no OAI contact", func(c *Config) { c.OAIAdminEmail = "" }, "OAIAdminEmail"},
		{"OAI contact with a name", func(c *Config) { c.OAIAdminEmail = "Portal <oai@example.eu>" }, "OAIAdminEmail"},
		{"blank OAI name", func(c *Config) { c.OAIRepositoryName = "  " }, "OAIRepositoryName"},
		{"long OAI name", func(c *Config) { c.OAIRepositoryName = strings.Repeat("x", 201) }, "OAIRepositoryName"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := valid
			tc.mod(&c)
			err := c.Validate()
			if tc.field == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.HasPrefix(err.Error(), tc.field+": ") {
				t.Fatalf("err = %v, want %s error", err, tc.field)
			}
		})
	}
	c := DefaultConfig()
	c.LongPollMax = 0
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "DataDir") || !strings.Contains(err.Error(), "LongPollMax") {
		t.Fatalf("joined errors = %v", err)
	}
}
