package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/bikfed/bikfed/internal/sampledata"
	"github.com/bikfed/bikfed/node"
)

// TestE2E_ImportResumesAfterKill kills `bikfed node import` with SIGKILL
// part-way through a file of records with refs, runs it again, and checks
// the node holds each record exactly once and both runs said how far the
// first one got.
func TestE2E_ImportResumesAfterKill(t *testing.T) {
	const total = 6000
	nw := newNetwork(t)
	be := nw.addNode("be")

	var b strings.Builder
	for _, d := range sampledata.Synthetic("be", total, 16) {
		line, err := json.Marshal(map[string]any{"ref": d.Ref, "kind": d.Kind, "visibility": d.Visibility, "body": d.Body})
		if err != nil {
			t.Fatal(err)
		}
		b.Write(line)
		b.WriteByte('\n')
	}
	file := filepath.Join(t.TempDir(), "records.ndjson")
	if err := os.WriteFile(file, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}

	// First run: killed as soon as it has committed its first batch.
	cmd := exec.Command(bikfedBin, "node", "import", file, "--data", be.dir)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	progressRE := regexp.MustCompile(`import: (\d+) records committed`)
	sc := bufio.NewScanner(stderr)
	seen := 0
	for sc.Scan() {
		if m := progressRE.FindStringSubmatch(sc.Text()); m != nil {
			seen, _ = strconv.Atoi(m[1])
			break
		}
	}
	cmd.Process.Kill()
	for sc.Scan() {
	}
	err = cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("the first import was not killed mid-way (it ended: %v); make the input larger", err)
	}
	if seen == 0 {
		t.Fatal("the first import printed no progress before it was killed")
	}
	first := ownerCounts(t, be, "be")
	if first < seen || first >= total {
		t.Fatalf("after the kill the node holds %d records; the import reported %d committed of %d", first, seen, total)
	}
	t.Logf("killed after %d records committed (last progress line: %d)", first, seen)

	// Second run: goes on, creating only what the first did not.
	out, errOut := runCLIStderr(t, "node", "import", file, "--data", be.dir)
	var res node.ImportResult
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("import result: %v\n%s", err, out)
	}
	if res.Records != total || res.Created != total-first || res.Matched != first || res.Unchanged != first || res.Failed != 0 {
		t.Errorf("second run: %+v, want %d created and %d matched and unchanged", res, total-first, first)
	}
	if res.Interrupted == nil || res.Interrupted.Records != first || res.Interrupted.Created != first {
		t.Errorf("second run: interrupted = %+v, want the first run's %d records", res.Interrupted, first)
	}
	if want := "stopped after " + strconv.Itoa(first) + " records"; !strings.Contains(errOut, want) {
		t.Errorf("second run's output does not say %q:\n%s", want, errOut)
	}
	if !progressRE.MatchString(errOut) {
		t.Errorf("second run printed no progress:\n%s", errOut)
	}
	if got := ownerCounts(t, be, "be"); got != total {
		t.Errorf("the node holds %d records, want each of the %d once", got, total)
	}

	// A third run of the same input changes nothing and reports no
	// interruption.
	out, _ = runCLIStderr(t, "node", "import", file, "--data", be.dir)
	res = node.ImportResult{}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatal(err)
	}
	if res.Created != 0 || res.Unchanged != total || res.Interrupted != nil {
		t.Errorf("third run: %+v", res)
	}
	if got := ownerCounts(t, be, "be"); got != total {
		t.Errorf("after a third run the node holds %d records", got)
	}
}
