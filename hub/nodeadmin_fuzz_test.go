package hub

import (
	"bytes"
	"net/http"
	"testing"
)

// FuzzNodeAction posts arbitrary bodies and node ids to the node action
// endpoint: a malformed request, an unknown node or action and a removal
// without its content choice are 4xx, never a 5xx, and nothing panics.
func FuzzNodeAction(f *testing.F) {
	f.Add("remove", "be", []byte(`{"content":"keep"}`))
	f.Add("remove", "be", []byte(`{"content":"everything"}`))
	f.Add("remove", "be", []byte(`{}`))
	f.Add("suspend", "zz", []byte(``))
	f.Add("rotate-key", "hub", []byte(`null`))
	f.Add("resume", "../x", []byte(`{"content":1}`))
	// One hub for every input; no node is registered, so no input can change it.
	th := mustOpenHub(f)
	f.Fuzz(func(t *testing.T, action, id string, body []byte) {
		req, err := http.NewRequest(http.MethodPost, th.url+"/admin/v1/nodes/"+id+"/"+action, bytes.NewReader(body))
		if err != nil {
			return
		}
		req.Header.Set("Authorization", "Bearer "+th.AdminToken())
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode >= 500 || resp.StatusCode == http.StatusOK {
			t.Fatalf("POST %s/%s %q: %s", id, action, body, resp.Status)
		}
	})
}
