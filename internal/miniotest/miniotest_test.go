package miniotest

import (
	"fmt"
	"net/http"
	"os"
	"runtime"
	"strings"
	"testing"
)

func TestStart(t *testing.T) {
	endpoint, access, secret := Start(t)
	if !strings.HasPrefix(endpoint, "127.0.0.1:") || access != AccessKey || secret != SecretKey {
		t.Fatalf("Start = %q, %q, %q", endpoint, access, secret)
	}
	resp, err := http.Get("http://" + endpoint + "/minio/health/ready")
	if err != nil {
		t.Fatalf("health check: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("health check: %s", resp.Status)
	}
}

// fatalTB records the message of a Fatalf instead of failing the real test.
type fatalTB struct {
	testing.TB
	msg string
}

func (f *fatalTB) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func TestStart_MissingBinary(t *testing.T) {
	t.Setenv("BIKFED_MINIO", t.TempDir()+"/no-such-minio")
	ftb := &fatalTB{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		Start(ftb)
		t.Error("Start returned without a server")
	}()
	<-done
	if !strings.Contains(ftb.msg, "make minio") {
		t.Errorf("failure message %q does not say to run make minio", ftb.msg)
	}
}

func TestBinary(t *testing.T) {
	t.Setenv("BIKFED_MINIO", "")
	t.Setenv("BIKFED_CACHE", "/cache")
	if got, _ := Binary(); got != "/cache/minio-"+Commit+"/minio" {
		t.Errorf("Binary with BIKFED_CACHE = %q", got)
	}
	t.Setenv("BIKFED_MINIO", "/opt/minio")
	if got, _ := Binary(); got != "/opt/minio" {
		t.Errorf("Binary with BIKFED_MINIO = %q", got)
	}
}

// The binary's directory is named after the pin, so the script that builds
// it and this package must agree on it.
func TestCommit_MatchesScript(t *testing.T) {
	script, err := os.ReadFile("../../scripts/minio.sh")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(script), "version=v0.0.0-") || !strings.Contains(string(script), "-"+Commit+"\n") {
		t.Errorf("scripts/minio.sh does not pin commit %s", Commit)
	}
}
