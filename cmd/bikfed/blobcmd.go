package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/bikfed/bikfed/hub"
	"github.com/bikfed/bikfed/internal/blobstore/s3"
	"github.com/bikfed/bikfed/node"
	"github.com/bikfed/bikfed/protocol"
)

// hubBlobFlags registers the hub's attachment settings. The S3 keys are
// secrets: they come from the environment (AWS_ACCESS_KEY_ID and
// AWS_SECRET_ACCESS_KEY, or MINIO_ROOT_USER and MINIO_ROOT_PASSWORD) or from
// the file --s3-credentials-file names, never from a flag, where ps would
// show them.
// splitEndpoint takes an S3 endpoint given as host:port or as a URL, whose
// scheme then says whether to use TLS.
func splitEndpoint(endpoint string, useSSL bool) (string, bool) {
	switch {
	case strings.HasPrefix(endpoint, "http://"):
		useSSL = false
	case strings.HasPrefix(endpoint, "https://"):
		useSSL = true
	}
	return strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(endpoint, "http://"), "https://"), "/"), useSSL
}

func hubBlobFlags(s *settings, cfg *hub.Config) {
	b := &cfg.Blobs
	env := s3.ConfigFromEnv()
	b.S3.AccessKey, b.S3.SecretKey = env.AccessKey, env.SecretKey
	endpoint := env.Endpoint
	if endpoint != "" && !env.UseSSL {
		endpoint = "http://" + endpoint
	}
	var credsFile string
	fs := s.fs
	fs.StringVar(&b.Store, "blob-store", b.Store, "where attachments live: file (<data>/blobs) or s3")
	fs.StringVar(&endpoint, "s3-endpoint", endpoint, "S3 endpoint, host:port; an http:// or https:// prefix sets --s3-use-ssl")
	fs.StringVar(&b.S3.Bucket, "s3-bucket", env.Bucket, "S3 bucket of the attachments, created if missing")
	fs.StringVar(&b.S3.Region, "s3-region", env.Region, "S3 region")
	fs.StringVar(&b.S3.Prefix, "s3-prefix", env.Prefix, "key prefix, so several hubs can share a bucket")
	fs.BoolVar(&b.S3.UseSSL, "s3-use-ssl", env.UseSSL, "reach the S3 endpoint over https")
	fs.StringVar(&credsFile, "s3-credentials-file", "", `file with the S3 keys: {"access_key":"…","secret_key":"…"} (default: the AWS_* or MINIO_ROOT_* environment variables)`)
	fs.Var((*byteSize)(&b.Quota), "blob-quota", "attachment storage per node, e.g. 10GiB (per-node overrides: bikfed hub quota)")
	fs.Var((*byteSize)(&b.MaxSize), "max-blob-size", "largest attachment accepted, e.g. 2GiB (at most 8GiB)")
	fs.DurationVar(&b.Grace, "blob-grace", b.Grace, "how long an attachment nothing references is kept")
	fs.DurationVar(&b.GCInterval, "blob-gc-interval", b.GCInterval, "how often unreferenced attachments and abandoned uploads are collected")
	fs.DurationVar(&b.StagingMaxAge, "blob-upload-max-age", b.StagingMaxAge, "how long an interrupted upload is kept for its node to resume")
	fs.BoolVar(&b.Redirect, "blob-redirect", b.Redirect, "redirect public downloads to presigned URLs of the object store (off: stream through the hub)")
	fs.DurationVar(&b.PresignExpiry, "presign-expiry", b.PresignExpiry, "how long a presigned download URL works")
	s.after = append(s.after, func() error {
		b.S3.Endpoint, b.S3.UseSSL = splitEndpoint(endpoint, b.S3.UseSSL)
		if credsFile == "" {
			return nil
		}
		raw, err := os.ReadFile(credsFile)
		if err != nil {
			return fmt.Errorf("s3-credentials-file: %w", err)
		}
		var keys struct {
			AccessKey string `json:"access_key"`
			SecretKey string `json:"secret_key"`
		}
		if err := json.Unmarshal(raw, &keys); err != nil || keys.AccessKey == "" || keys.SecretKey == "" {
			return fmt.Errorf("s3-credentials-file %s: want {\"access_key\":…,\"secret_key\":…}", credsFile)
		}
		b.S3.AccessKey, b.S3.SecretKey = keys.AccessKey, keys.SecretKey
		return nil
	})
}

// nodeBlobFlags registers the node's attachment settings.
func nodeBlobFlags(s *settings, cfg *node.Config) {
	b := &cfg.Blobs
	s.fs.DurationVar(&b.Grace, "blob-grace", b.Grace, "how long an attachment nothing references is kept")
	s.fs.Var((*byteSize)(&b.UploadRate), "blob-upload-rate", "limit attachment uploads to this many bytes per second, e.g. 2MiB (0: no limit)")
	s.fs.DurationVar(&b.FetchInterval, "blob-fetch-interval", b.FetchInterval, "how often attachments of pulled entities are fetched and failed fetches retried")
}

// byteSize is a flag of bytes that takes 1048576, 1MiB, 1.5GB and the like.
type byteSize int64

func (b *byteSize) String() string {
	if b == nil {
		return "0"
	}
	return formatBytes(int64(*b))
}

func (b *byteSize) Set(s string) error {
	n, err := parseBytes(s)
	if err != nil {
		return err
	}
	*b = byteSize(n)
	return nil
}

var byteUnits = []struct {
	suffix string
	n      float64
}{
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
	{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12}, {"B", 1},
}

func parseBytes(s string) (int64, error) {
	t := strings.TrimSpace(s)
	mult := 1.0
	for _, u := range byteUnits {
		if strings.HasSuffix(strings.ToUpper(t), strings.ToUpper(u.suffix)) {
			t, mult = strings.TrimSpace(t[:len(t)-len(u.suffix)]), u.n
			break
		}
	}
	f, err := strconv.ParseFloat(t, 64)
	if err != nil || f < 0 || f*mult > 1<<62 {
		return 0, fmt.Errorf("%q is not a size in bytes (e.g. 1048576, 512MiB, 2GiB)", s)
	}
	return int64(f * mult), nil
}

func formatBytes(n int64) string {
	for _, u := range []struct {
		suffix string
		n      int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n >= u.n && n%u.n == 0 {
			return strconv.FormatInt(n/u.n, 10) + u.suffix
		}
	}
	return strconv.FormatInt(n, 10)
}

// hubQuota is `bikfed hub quota ID [--set SIZE]`.
func (e *cmdEnv) hubQuota(ctx context.Context, args []string) error {
	id, args := leadingArg(args)
	var set string
	c, done, err := e.hubAdmin(ctx, "quota", args, func(s *settings) {
		s.fs.StringVar(&set, "set", "", "give the node a quota of its own, e.g. 50GiB (default: the configured --blob-quota)")
	})
	if err != nil {
		return err
	}
	defer done()
	if id == "" {
		return fmt.Errorf("quota: give the node id, e.g. bikfed hub quota be --set 50GiB")
	}
	path := "/admin/v1/nodes/" + url.PathEscape(id) + "/quota"
	var u hub.BlobUsage
	if set != "" {
		n, err := parseBytes(set)
		if err != nil {
			return fmt.Errorf("quota: --set: %w", err)
		}
		err = c.doJSON(ctx, "PUT", path, map[string]int64{"quota": n}, &u)
		if err != nil {
			return err
		}
	} else if err := c.doJSON(ctx, "GET", path, nil, &u); err != nil {
		return err
	}
	kind := "default"
	if u.Custom {
		kind = "own"
	}
	fmt.Fprintf(e.stdout, "%s uses %s of %s (%s quota)\n", u.Node, formatBytes(u.Used), formatBytes(u.Quota), kind)
	return nil
}

// attachFiles attaches each file to the node and returns the references,
// after keep.
func attachFiles(ctx context.Context, c *adminClient, keep []protocol.BlobRef, paths []string) ([]protocol.BlobRef, error) {
	out := append([]protocol.BlobRef(nil), keep...)
	for _, p := range paths {
		ref, err := attachFile(ctx, c, p)
		if err != nil {
			return nil, err
		}
		out = append(out, ref)
	}
	return out, nil
}

// attachFile streams one file to the node's attachments endpoint, which
// guesses its media type as the node does for any attachment.
func attachFile(ctx context.Context, c *adminClient, path string) (protocol.BlobRef, error) {
	f, err := os.Open(path)
	if err != nil {
		return protocol.BlobRef{}, fmt.Errorf("attach: %w", err)
	}
	defer f.Close()
	var ref protocol.BlobRef
	err = c.do(ctx, "POST", node.PathAdminBlobs+"?name="+url.QueryEscape(filepath.Base(path)), f, "", &ref)
	return ref, err
}

// nodeAttach is `bikfed node attach FILE…`: copies files into the node's
// blob store and prints their references, to put in an entity's "blobs".
func (e *cmdEnv) nodeAttach(ctx context.Context, args []string) error {
	var files []string
	for len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		files, args = append(files, args[0]), args[1:]
	}
	c, _, done, err := e.nodeAdmin(ctx, "attach", args, nil)
	if err != nil {
		return err
	}
	defer done()
	if len(files) == 0 {
		return fmt.Errorf("attach: give the files to attach")
	}
	refs, err := attachFiles(ctx, c, nil, files)
	if err != nil {
		return err
	}
	return writeJSON(e.stdout, refs)
}

// nodeBlob is `bikfed node blob get SHA256 [--out FILE]` and `bikfed node
// blob pending`.
func (e *cmdEnv) nodeBlob(ctx context.Context, args []string) error {
	sub, args := leadingArg(args)
	switch sub {
	case "get":
		sha, args := leadingArg(args)
		var out string
		c, _, done, err := e.nodeAdmin(ctx, "blob get", args, func(s *settings) {
			s.fs.StringVar(&out, "out", "-", "where to write the attachment (- for standard output)")
		})
		if err != nil {
			return err
		}
		defer done()
		if sha == "" {
			return fmt.Errorf("blob get: give the attachment's sha256")
		}
		resp, err := c.send(ctx, "GET", node.PathAdminBlobs+"/"+url.PathEscape(sha), nil, "")
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		var w io.Writer = e.stdout
		if out != "-" {
			f, err := os.Create(out)
			if err != nil {
				return fmt.Errorf("blob get: %w", err)
			}
			defer f.Close()
			w = f
		}
		if _, err := io.Copy(w, resp.Body); err != nil {
			return fmt.Errorf("blob get: %w", err)
		}
		return nil
	case "pending":
		c, _, done, err := e.nodeAdmin(ctx, "blob pending", args, nil)
		if err != nil {
			return err
		}
		defer done()
		var res struct {
			Pending []node.BlobFetch `json:"pending"`
		}
		if err := c.doJSON(ctx, "GET", node.PathAdminBlobs, nil, &res); err != nil {
			return err
		}
		tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "SHA256\tSIZE\tENTITY\tATTEMPTS\tNEXT\tLAST ERROR")
		for _, f := range res.Pending {
			fmt.Fprintf(tw, "%s\t%d\t%s\t%d\t%s\t%s\n", f.SHA256[:16], f.Size, f.Entity, f.Attempts, time.Until(f.NextAt).Round(time.Second), f.LastError)
		}
		return tw.Flush()
	}
	return errUsage
}
