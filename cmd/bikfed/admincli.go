package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/bikfed/bikfed/internal/dirlock"
	"github.com/bikfed/bikfed/protocol"
)

// One process writes a data directory's databases: the server while it runs,
// or else the one-shot command that opened them. A server takes the lock file
// for its whole run and records its listen address beside it; a one-shot
// command that finds the lock held speaks the server's admin API with the
// operator token instead of opening the database, and one that finds it free
// holds it while it opens the database itself, serving the same API to itself
// in-process, so every command has a single implementation.
const (
	hubLockFile  = "hub.lock"
	hubAddrFile  = "hub.addr"
	nodeLockFile = "node.lock"
	nodeAddrFile = "node.addr"
)

// serveLockWait is how long a server starting waits for a one-shot command
// that holds the data directory before it refuses to start.
const serveLockWait = 10 * time.Second

// serverStartWait is how long a command waits for a server that holds the
// lock to record its address (it migrates and loads before it listens).
const serverStartWait = 30 * time.Second

// maxAdminResponse bounds a JSON answer of the admin API read by the CLI.
const maxAdminResponse = 64 << 20

// lockForServe takes the data directory's lock for a server's run, waiting a
// while for a one-shot command to finish, and removes the address a previous
// run left, so no command talks to a server that is gone.
func lockForServe(dir, lockName, addrName string) (*dirlock.Lock, error) {
	l, err := dirlock.Wait(dir, lockName, serveLockWait)
	if errors.Is(err, dirlock.ErrLocked) {
		return nil, fmt.Errorf("data directory %s is in use by another bikfed process (a running server, or a command that did not finish within %s)", dir, serveLockWait)
	}
	if err != nil {
		return nil, err
	}
	if err := os.Remove(filepath.Join(dir, addrName)); err != nil && !errors.Is(err, os.ErrNotExist) {
		l.Unlock()
		return nil, fmt.Errorf("remove stale address: %w", err)
	}
	return l, nil
}

// adminClient speaks a server's admin API: over TCP to a running server, or
// to a handler of this process that opened the database itself.
type adminClient struct {
	base  string
	token string
	http  *http.Client
}

// remoteAdmin returns a client of the server holding dir's lock, at the
// address it recorded, or nil when no server holds the lock. token is the
// operator token given on the command line; empty reads it from tokenPath.
func remoteAdmin(dir, lockName, addrName, token, tokenPath string) (*adminClient, *dirlock.Lock, error) {
	l, err := dirlock.TryLock(dir, lockName)
	if err == nil {
		return nil, l, nil
	}
	if !errors.Is(err, dirlock.ErrLocked) {
		return nil, nil, err
	}
	addr, err := waitAddr(dir, lockName, addrName)
	if err != nil {
		return nil, nil, err
	}
	if token == "" {
		b, err := os.ReadFile(tokenPath)
		if err != nil {
			return nil, nil, fmt.Errorf("a server is running on %s; read its operator token: %w", dir, err)
		}
		token = strings.TrimSpace(string(b))
	}
	return &adminClient{base: "http://" + addr, token: token, http: &http.Client{}}, nil, nil
}

// waitAddr reads the address a server recorded, waiting while the server is
// still starting (it holds the lock before it listens).
func waitAddr(dir, lockName, addrName string) (string, error) {
	deadline := time.Now().Add(serverStartWait)
	for {
		b, err := os.ReadFile(filepath.Join(dir, addrName))
		if err == nil && len(bytes.TrimSpace(b)) > 0 {
			return dialable(strings.TrimSpace(string(b))), nil
		}
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return "", fmt.Errorf("read server address: %w", err)
		}
		held, herr := dirlock.Held(dir, lockName)
		if herr != nil {
			return "", herr
		}
		if !held {
			return "", fmt.Errorf("the server on %s stopped before recording its address; run the command again", dir)
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("a process holds %s but recorded no address within %s", filepath.Join(dir, lockName), serverStartWait)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// dialable turns the address a server listens on into one to connect to: a
// server listening on every interface (":8080") is reached on loopback.
func dialable(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		return net.JoinHostPort("127.0.0.1", port)
	}
	return addr
}

// localAdmin returns a client of handler, served in this process.
func localAdmin(handler http.Handler, token string) *adminClient {
	return &adminClient{base: "http://local", token: token, http: &http.Client{Transport: handlerTransport{handler}}}
}

// do sends a request with the operator token. A non-2xx answer becomes a
// *protocol.Error with the server's code and message. With out set, the JSON
// answer is decoded into it.
func (c *adminClient) do(ctx context.Context, method, path string, body io.Reader, contentType string, out any) error {
	resp, err := c.send(ctx, method, path, body, contentType)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		_, err := io.Copy(io.Discard, io.LimitReader(resp.Body, maxAdminResponse))
		return err
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxAdminResponse)).Decode(out); err != nil {
		return fmt.Errorf("%s %s: decode answer: %w", method, path, err)
	}
	return nil
}

// send sends a request and returns a 2xx response; its body is the caller's
// to close.
func (c *adminClient) send(ctx context.Context, method, path string, body io.Reader, contentType string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	if resp.StatusCode/100 == 2 {
		return resp, nil
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	var er struct {
		Error *protocol.Error `json:"error"`
	}
	if json.Unmarshal(raw, &er) == nil && er.Error != nil && er.Error.Code != "" {
		return nil, er.Error
	}
	return nil, &protocol.Error{Code: protocol.CodeForStatus(resp.StatusCode), Message: fmt.Sprintf("%s %s: %s", method, path, resp.Status)}
}

// doJSON sends in as a JSON body.
func (c *adminClient) doJSON(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("%s %s: %w", method, path, err)
		}
		body = bytes.NewReader(b)
	}
	return c.do(ctx, method, path, body, "application/json", out)
}

// handlerTransport serves requests with a handler of this process, streaming
// the answer through a pipe, so an attachment is never held in memory whole.
type handlerTransport struct{ h http.Handler }

func (t handlerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	pr, pw := io.Pipe()
	w := &pipeWriter{header: http.Header{}, pw: pw, ready: make(chan struct{})}
	go func() {
		defer func() {
			w.WriteHeader(http.StatusOK)
			pw.Close()
		}()
		t.h.ServeHTTP(w, req)
	}()
	select {
	case <-w.ready:
	case <-req.Context().Done():
		pr.CloseWithError(req.Context().Err())
		return nil, req.Context().Err()
	}
	return &http.Response{
		Status: fmt.Sprintf("%d %s", w.status, http.StatusText(w.status)), StatusCode: w.status,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: w.sent, Body: pr, ContentLength: -1, Request: req,
	}, nil
}

// pipeWriter is the http.ResponseWriter of handlerTransport.
type pipeWriter struct {
	header http.Header
	sent   http.Header
	status int
	pw     *io.PipeWriter
	once   sync.Once
	ready  chan struct{}
}

func (w *pipeWriter) Header() http.Header { return w.header }

func (w *pipeWriter) WriteHeader(status int) {
	w.once.Do(func() {
		w.status, w.sent = status, w.header.Clone()
		close(w.ready)
	})
}

func (w *pipeWriter) Write(p []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	return w.pw.Write(p)
}
