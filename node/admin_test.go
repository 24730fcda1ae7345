package node

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/bikfed/bikfed/protocol"
)

type adminClient struct {
	t     *testing.T
	base  string
	token string
}

func (c adminClient) do(method, path string, body io.Reader, out any, hdr ...string) int {
	c.t.Helper()
	req, err := http.NewRequestWithContext(c.t.Context(), method, c.base+path, body)
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			c.t.Fatalf("%s %s: decode %q: %v", method, path, b, err)
		}
	}
	return resp.StatusCode
}

type errorBody struct {
	Error APIError `json:"error"`
}

func TestAdmin_RoundTrip(t *testing.T) {
	hub := newFakeHub(t)
	n := newTestNode(t, hub, "be")
	srv := httptest.NewServer(n.Handler())
	t.Cleanup(srv.Close)
	c := adminClient{t: t, base: srv.URL, token: n.adminToken}

	t.Run("token required", func(t *testing.T) {
		var eb errorBody
		bad := adminClient{t: t, base: srv.URL, token: "wrong-token-wrong-token"}
		if code := bad.do("GET", PathAdminStatus, nil, &eb); code != 401 || eb.Error.Code != protocol.CodeUnauthorized {
			t.Fatalf("status %d, %+v", code, eb)
		}
		resp, err := http.Get(srv.URL + PathHealth)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("healthz = %v, %v", resp, err)
		}
		resp.Body.Close()
	})

	body, _ := json.Marshal(resourceDraft("via the API"))
	var e Entity
	if code := c.do("POST", PathAdminEntities, bytes.NewReader(body), &e); code != 201 || e.State != StatePending || e.Version != 1 {
		t.Fatalf("create: %d %+v", code, e)
	}

	t.Run("validation errors name the fields", func(t *testing.T) {
		var eb errorBody
		code := c.do("POST", PathAdminEntities, strings.NewReader(`{"kind":"resource","visibility":"public","body":{"title":"x"}}`), &eb)
		if code != 422 || eb.Error.Code != protocol.CodeInvalidField || len(eb.Error.Fields) == 0 {
			t.Fatalf("%d %+v", code, eb)
		}
		code = c.do("POST", PathAdminEntities, strings.NewReader(`{"kind":"resource","colour":"red"}`), &eb)
		if code != 422 || eb.Error.Fields[0].Field != "colour" {
			t.Fatalf("%d %+v", code, eb)
		}
		code = c.do("POST", PathAdminEntities, strings.NewReader(`{"kind":`), &eb)
		if code != 400 || eb.Error.Code != protocol.CodeMalformedJSON {
			t.Fatalf("%d %+v", code, eb)
		}
		code = c.do("POST", PathAdminEntities, strings.NewReader(strings.Repeat(" ", maxEntityBody+1)), &eb)
		if code != 413 {
			t.Fatalf("oversized body: %d %+v", code, eb)
		}
	})

	var got Entity
	if code := c.do("GET", PathAdminEntities+"/"+e.ID, nil, &got); code != 200 || got.ID != e.ID {
		t.Fatalf("get: %d %+v", code, got)
	}
	var eb errorBody
	if code := c.do("GET", PathAdminEntities+"/be:01ARZ3NDEKTSV4RRFFQ69G5FAV", nil, &eb); code != 404 || eb.Error.Code != protocol.CodeNotFound {
		t.Fatalf("get missing: %d %+v", code, eb)
	}
	upd, _ := json.Marshal(Draft{Visibility: protocol.VisibilityPublic, Body: resourceBody("edited")})
	if code := c.do("PUT", PathAdminEntities+"/"+e.ID, bytes.NewReader(upd), &got); code != 200 || got.Version != 2 {
		t.Fatalf("update: %d %+v", code, got)
	}

	var imp ImportResult
	var zbuf bytes.Buffer
	zw := gzip.NewWriter(&zbuf)
	for _, title := range []string{"a", "b", "c"} {
		line, _ := json.Marshal(resourceDraft(title))
		zw.Write(append(line, '\n'))
	}
	zw.Write([]byte("{}\n"))
	zw.Close()
	if code := c.do("POST", PathAdminImport, &zbuf, &imp, "Content-Encoding", "gzip"); code != 200 || imp.Created != 3 || imp.Failed != 1 {
		t.Fatalf("import: %d %+v", code, imp)
	}

	var list EntityList
	if code := c.do("GET", PathAdminEntities+"?kind=resource&owner=be&limit=3", nil, &list); code != 200 || len(list.Entities) != 3 || list.Next == "" {
		t.Fatalf("list: %d %+v", code, list)
	}
	after := list.Next
	list = EntityList{}
	if code := c.do("GET", PathAdminEntities+"?kind=resource&after="+after, nil, &list); code != 200 || len(list.Entities) != 1 || list.Next != "" {
		t.Fatalf("list page 2: %d %+v", code, list)
	}

	if code := c.do("DELETE", PathAdminEntities+"/"+e.ID+"?erase=1", nil, &got); code != 200 || !got.Erased || (got.Body != nil && string(got.Body) != "null") {
		t.Fatalf("erase: %d %+v", code, got)
	}

	var st Status
	if code := c.do("POST", PathAdminSync, nil, &st); code != 200 || st.Pending != 0 || st.PushCheckpoint != 6 {
		t.Fatalf("sync: %d %+v", code, st)
	}
	var rep VerifyReport
	if code := c.do("GET", PathAdminVerify, nil, &rep); code != 200 || !rep.Equal {
		t.Fatalf("verify: %d %+v", code, rep)
	}
	var raw map[string]any
	c.do("GET", PathAdminEntities+"/"+e.ID, nil, &raw)
	for _, k := range []string{"id", "kind", "owner", "version", "visibility", "publish_at", "deleted", "erased", "updated_at", "body", "blobs", "state"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("entity JSON lacks %q: %v", k, raw)
		}
	}

	t.Run("hub down", func(t *testing.T) {
		hub.setFailNext(100)
		defer func() { hub.setFailNext(0) }()
		var eb errorBody
		if code := c.do("POST", PathAdminSync, nil, &eb); code != 503 || eb.Error.Code != protocol.CodeUnavailable {
			t.Fatalf("sync with hub down: %d %+v", code, eb)
		}
		// Authoring keeps working offline.
		if code := c.do("POST", PathAdminEntities, bytes.NewReader(body), &e); code != 201 {
			t.Fatalf("offline create: %d", code)
		}
	})
}

func TestNode_Run(t *testing.T) {
	hub := newFakeHub(t)
	dir := initNode(t, hub, "be")
	cfg := testConfig(dir)
	cfg.Schedules.Pull = "@every 1h" // the long-poll loop must do the work
	cfg.Schedules.Push = "@every 1h"
	n, err := Open(t.Context(), cfg, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx, ln) }()

	c := adminClient{t: t, base: "http://" + ln.Addr().String(), token: n.adminToken}
	body, _ := json.Marshal(resourceDraft("pushed on write"))
	var e Entity
	waitFor(t, 5*time.Second, "admin API", func() bool {
		resp, err := http.Get(c.base + PathHealth)
		if err == nil {
			resp.Body.Close()
		}
		return err == nil
	})
	if code := c.do("POST", PathAdminEntities, bytes.NewReader(body), &e); code != 201 {
		t.Fatalf("create: %d", code)
	}
	waitFor(t, 5*time.Second, "debounced push", func() bool { _, ok := hub.row(e.ID); return ok })

	fi := hub.remoteKey(t, "fi")
	s := hub.author(t, fi, protocol.Change{Kind: protocol.KindResource, Body: resourceBody("long-polled")})
	pc, _ := protocol.ParseChange(s.Change)
	waitFor(t, 5*time.Second, "long-poll pull", func() bool { _, err := n.Get(t.Context(), pc.ID); return err == nil })

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run = %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Run did not stop")
	}
}
