package main

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/bikfed/bikfed/hub/mirror"
	"github.com/bikfed/bikfed/hub/portal"
	"github.com/bikfed/bikfed/internal/blobstore/s3"
)

// mirror runs the mirror commands: init (enrol) and serve.
func (e *cmdEnv) mirror(ctx context.Context, args []string) error {
	sub := "serve"
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		sub, args = args[0], args[1:]
	}
	switch sub {
	case "init":
		return e.mirrorInit(ctx, args)
	case "serve":
		return e.mirrorServe(ctx, args)
	}
	return errUsage
}

func (e *cmdEnv) mirrorInit(ctx context.Context, args []string) error {
	var dataDir, hubURL, token string
	s := newSettings("bikfed mirror init", e.stderr)
	s.fs.StringVar(&dataDir, "data", "bikfed-mirror", "data directory: mirror.json, mirror.db, portal.db")
	s.fs.StringVar(&hubURL, "hub", "", "the hub's URL")
	s.fs.StringVar(&token, "token", "", "the one-time token of bikfed hub register-mirror")
	if err := s.parse(args); err != nil {
		return err
	}
	if hubURL == "" || token == "" {
		return fmt.Errorf("mirror init: give --hub URL and --token T (from bikfed hub register-mirror NAME)")
	}
	id, err := mirror.Enrol(ctx, dataDir, hubURL, token)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "mirror %s enrolled with %s\n", id.Name, id.Hub)
	return nil
}

func (e *cmdEnv) mirrorServe(ctx context.Context, args []string) error {
	cfg := mirror.DefaultConfig()
	listen := "127.0.0.1:8090"
	s := newSettings("bikfed mirror serve", e.stderr)
	s.fs.StringVar(&cfg.DataDir, "data", cfg.DataDir, "data directory: mirror.json, mirror.db, portal.db")
	s.fs.StringVar(&listen, "listen", listen, "HTTP listen address")
	s.fs.StringVar(&cfg.PublicURL, "public-url", "", "the portal's public base URL, the load balancer's (default: the hub's, given at enrolment)")
	s.fs.Var(portal.MinisiteHostsValue(&cfg.MinisiteHosts), "minisite-host", "serve a portal minisite on a host name: sid=saferinternetday.example (repeat, or separate with commas)")
	s.fs.DurationVar(&cfg.LongPoll, "long-poll", cfg.LongPoll, "how long one pull waits at the hub for news")
	s.fs.DurationVar(&cfg.IndexSettle, "index-settle", cfg.IndexSettle, "how long pulled changes are gathered before they are indexed; pages are rendered anew after each indexing, so under heavy traffic from a busy feed longer is cheaper")
	mirrorBlobFlags(s, &cfg.Blobs)
	if err := s.parse(args); err != nil {
		return err
	}
	log, err := s.logger(e.stderr)
	if err != nil {
		return err
	}
	m, err := mirror.Open(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer m.Close()
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	return m.Serve(ctx, ln)
}

// mirrorBlobFlags are the object store settings, named as the hub's: a
// mirror reads the attachments from the store the hub writes them to.
func mirrorBlobFlags(s *settings, b *mirror.BlobConfig) {
	env := s3.ConfigFromEnv()
	b.S3 = env
	endpoint := env.Endpoint
	if endpoint != "" && !env.UseSSL {
		endpoint = "http://" + endpoint
	}
	fs := s.fs
	fs.StringVar(&b.Store, "blob-store", "", "where attachments come from: s3 (the hub's bucket), or empty for the hub, cached in <data>/files")
	fs.StringVar(&endpoint, "s3-endpoint", endpoint, "S3 endpoint, host:port; an http:// or https:// prefix sets --s3-use-ssl")
	fs.StringVar(&b.S3.Bucket, "s3-bucket", env.Bucket, "the hub's S3 bucket")
	fs.StringVar(&b.S3.Region, "s3-region", env.Region, "S3 region")
	fs.StringVar(&b.S3.Prefix, "s3-prefix", env.Prefix, "the hub's key prefix")
	fs.BoolVar(&b.S3.UseSSL, "s3-use-ssl", env.UseSSL, "reach the S3 endpoint over https")
	fs.BoolVar(&b.Redirect, "blob-redirect", b.Redirect, "redirect downloads to presigned URLs of the object store (off: stream through the mirror)")
	fs.DurationVar(&b.PresignExpiry, "presign-expiry", 15*time.Minute, "how long a presigned download URL works")
	s.after = append(s.after, func() error {
		b.S3.Endpoint, b.S3.UseSSL = splitEndpoint(endpoint, b.S3.UseSSL)
		return nil
	})
}
