package s3

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/bikfed/bikfed/internal/blobstore"
	"github.com/bikfed/bikfed/internal/blobstore/blobstoretest"
	"github.com/bikfed/bikfed/internal/miniotest"
)

// server starts one MinIO per top-level test; each store gets a bucket of
// its own, which also exercises New's bucket creation.
type server struct {
	endpoint, access, secret string
}

func startServer(t *testing.T) server {
	endpoint, access, secret := miniotest.Start(t)
	return server{endpoint, access, secret}
}

func (srv server) config(prefix string) Config {
	var rnd [6]byte
	rand.Read(rnd[:])
	cfg := DefaultConfig()
	cfg.Endpoint, cfg.AccessKey, cfg.SecretKey, cfg.UseSSL = srv.endpoint, srv.access, srv.secret, false
	cfg.Bucket = "t-" + hex.EncodeToString(rnd[:])
	cfg.Prefix = prefix
	return cfg
}

func (srv server) newStore(t *testing.T, prefix string) *Store {
	t.Helper()
	s, err := New(t.Context(), srv.config(prefix))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}

// objects lists every key in the store's bucket, temporary ones included.
func objects(t *testing.T, s *Store) []string {
	t.Helper()
	// t.Context() is already cancelled in cleanups.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var keys []string
	for oi := range s.client.ListObjectsIter(ctx, s.bucket, minio.ListObjectsOptions{Recursive: true}) {
		if oi.Err != nil {
			t.Fatalf("list bucket: %v", oi.Err)
		}
		keys = append(keys, oi.Key)
	}
	return keys
}

func TestStore_Conformance(t *testing.T) {
	srv := startServer(t)
	blobstoretest.Run(t, func(t *testing.T) blobstore.Store {
		s := srv.newStore(t, "deploy/")
		// Beyond what List shows: no temporary objects may be left behind,
		// nor anything outside the prefix.
		t.Cleanup(func() {
			for _, k := range objects(t, s) {
				if !strings.HasPrefix(k, "deploy/blobs/") {
					t.Errorf("object %s left behind", k)
				}
			}
		})
		return s
	})
}

func TestStore_Objects(t *testing.T) {
	srv := startServer(t)

	t.Run("Metadata", func(t *testing.T) {
		s := srv.newStore(t, "")
		b := blobstoretest.NewBlob(1, 1000)
		blobstoretest.MustPut(t, s, b, "application/pdf")
		oi, err := s.client.StatObject(t.Context(), s.bucket, "blobs/"+b.SHA256, minio.StatObjectOptions{})
		if err != nil {
			t.Fatalf("StatObject: %v", err)
		}
		if oi.ContentType != "application/pdf" || oi.UserMetadata[metaSHA256] != b.SHA256 {
			t.Errorf("object has Content-Type %q and metadata %v", oi.ContentType, oi.UserMetadata)
		}
		if keys := objects(t, s); len(keys) != 1 {
			t.Errorf("bucket holds %v, want the one blob", keys)
		}
	})

	// Blobs larger than a part go up as a multipart upload, completed only
	// after the hash checked out; a lowered part size runs that path on a
	// few MiB.
	t.Run("Multipart", func(t *testing.T) {
		s := srv.newStore(t, "p")
		s.partSize = 5 << 20
		b := blobstoretest.NewBlob(2, 12<<20+3)
		blobstoretest.MustPut(t, s, b, "video/mp4")
		got, info := blobstoretest.ReadAll(t, s, b.SHA256)
		if !bytes.Equal(got, b.Data) || info.MediaType != "video/mp4" {
			t.Errorf("blob uploaded in parts differs (info %+v)", info)
		}
		oi, err := s.client.StatObject(t.Context(), s.bucket, "p/blobs/"+b.SHA256, minio.StatObjectOptions{})
		if err != nil || oi.UserMetadata[metaSHA256] != b.SHA256 || !strings.Contains(oi.ETag, "-") {
			t.Errorf("object %+v, %v: want sha256 metadata and a multipart ETag", oi, err)
		}
		if keys := objects(t, s); len(keys) != 1 {
			t.Errorf("bucket holds %v, want the one blob", keys)
		}

		// A mismatch found after the last part was read leaves neither an
		// object nor an incomplete upload.
		bad := blobstoretest.NewBlob(3, 11<<20)
		err = s.Put(t.Context(), b.SHA256[:63]+"0", int64(len(bad.Data)), "", bytes.NewReader(bad.Data))
		if !errors.Is(err, blobstore.ErrHashMismatch) {
			t.Fatalf("Put of other bytes = %v, want ErrHashMismatch", err)
		}
		for mp := range s.client.ListIncompleteUploads(t.Context(), s.bucket, "", true) {
			t.Errorf("incomplete upload %s left behind (%v)", mp.Key, mp.Err)
		}
		if keys := objects(t, s); len(keys) != 1 {
			t.Errorf("bucket holds %v, want the one blob", keys)
		}
	})

	t.Run("Sweep", func(t *testing.T) {
		s := srv.newStore(t, "")
		ctx := t.Context()
		// What a crash of an earlier version between upload and copy left,
		// and what a crash in the middle of a multipart upload leaves.
		if _, err := s.client.PutObject(ctx, s.bucket, "tmp/crashed", strings.NewReader("partial"), 7, minio.PutObjectOptions{}); err != nil {
			t.Fatal(err)
		}
		core := minio.Core{Client: s.client}
		if _, err := core.NewMultipartUpload(ctx, s.bucket, "blobs/"+strings.Repeat("ab", 32), minio.PutObjectOptions{}); err != nil {
			t.Fatal(err)
		}
		b := blobstoretest.NewBlob(3, 10)
		blobstoretest.MustPut(t, s, b, "")
		if n, err := s.Sweep(ctx, time.Hour); err != nil || n != 0 {
			t.Errorf("Sweep(1h) = %d, %v; want nothing removed", n, err)
		}
		if n, err := s.Sweep(ctx, -time.Minute); err != nil || n != 2 {
			t.Errorf("Sweep(-1m) = %d, %v; want 2 removed", n, err)
		}
		for mp := range s.client.ListIncompleteUploads(ctx, s.bucket, "", true) {
			t.Errorf("incomplete upload %s left after Sweep (%v)", mp.Key, mp.Err)
		}
		if keys := objects(t, s); len(keys) != 1 || keys[0] != "blobs/"+b.SHA256 {
			t.Errorf("bucket holds %v after Sweep, want the blob only", keys)
		}
	})

	t.Run("Reopen", func(t *testing.T) {
		cfg := srv.config("")
		s1, err := New(t.Context(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		b := blobstoretest.NewBlob(4, 10)
		blobstoretest.MustPut(t, s1, b, "")
		s2, err := New(t.Context(), cfg) // the bucket exists now
		if err != nil {
			t.Fatalf("New on an existing bucket: %v", err)
		}
		if _, err := s2.Stat(t.Context(), b.SHA256); err != nil {
			t.Errorf("Stat through a second store: %v", err)
		}
	})

	t.Run("WrongCredentials", func(t *testing.T) {
		cfg := srv.config("")
		cfg.SecretKey = "wrong-secret"
		if _, err := New(t.Context(), cfg); err == nil {
			t.Errorf("New with a wrong secret key succeeded")
		}
	})

	t.Run("MissingBucketIsNotNotFound", func(t *testing.T) {
		s := srv.newStore(t, "")
		if err := s.client.RemoveBucket(t.Context(), s.bucket); err != nil {
			t.Fatal(err)
		}
		_, err := s.Stat(t.Context(), blobstoretest.NewBlob(5, 1).SHA256)
		if err == nil || errors.Is(err, blobstore.ErrNotFound) {
			t.Errorf("Stat in a removed bucket = %v, want an error other than ErrNotFound", err)
		}
	})
}

func TestPartSizeFor(t *testing.T) {
	for _, tc := range []struct {
		size int64
		want uint64
	}{
		{0, partSize},
		{8 << 30, partSize},
		{partSize * maxParts, partSize},
		{partSize*maxParts + 1, partSize + 1},
		{1 << 40, (1<<40 + maxParts - 1) / maxParts},
	} {
		if got := partSizeFor(tc.size); got != tc.want || int64(got)*maxParts < tc.size {
			t.Errorf("partSizeFor(%d) = %d, want %d", tc.size, got, tc.want)
		}
	}
}

func TestConfigFromEnv(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		want Config
	}{
		{"minio fallback", map[string]string{
			"BIKFED_S3_ENDPOINT": "http://127.0.0.1:9000",
			"MINIO_ROOT_USER":    "root", "MINIO_ROOT_PASSWORD": "rootpass",
		}, Config{Endpoint: "127.0.0.1:9000", Bucket: "bikfed", Region: "us-east-1", AccessKey: "root", SecretKey: "rootpass"}},
		{"aws keys win as a pair", map[string]string{
			"BIKFED_S3_ENDPOINT": "s3.eu-central-1.amazonaws.com", "BIKFED_S3_BUCKET": "bik-blobs", "BIKFED_S3_PREFIX": "hub/",
			"AWS_ACCESS_KEY_ID": "AKIA", "AWS_SECRET_ACCESS_KEY": "secret", "AWS_REGION": "eu-central-1",
			"MINIO_ROOT_USER": "root", "MINIO_ROOT_PASSWORD": "rootpass",
		}, Config{Endpoint: "s3.eu-central-1.amazonaws.com", Bucket: "bik-blobs", Region: "eu-central-1", AccessKey: "AKIA", SecretKey: "secret", UseSSL: true, Prefix: "hub/"}},
		{"https scheme and default region", map[string]string{
			"BIKFED_S3_ENDPOINT": "https://minio.example.org/", "AWS_DEFAULT_REGION": "eu-west-1",
		}, Config{Endpoint: "minio.example.org", Bucket: "bikfed", Region: "eu-west-1", UseSSL: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := configFrom(func(k string) string { return tc.env[k] })
			if got != tc.want {
				t.Errorf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestConfig_Validate(t *testing.T) {
	valid := Config{Endpoint: "127.0.0.1:9000", Bucket: "bikfed", AccessKey: "a", SecretKey: "b"}
	if err := valid.Validate(); err != nil {
		t.Fatalf("valid config: %v", err)
	}
	for _, tc := range []struct {
		name  string
		edit  func(*Config)
		field string
	}{
		{"no endpoint", func(c *Config) { c.Endpoint = "" }, "endpoint"},
		{"scheme in endpoint", func(c *Config) { c.Endpoint = "http://x:9000" }, "endpoint"},
		{"bad bucket", func(c *Config) { c.Bucket = "Bik_Fed" }, "bucket"},
		{"no access key", func(c *Config) { c.AccessKey = "" }, "access key"},
		{"no secret key", func(c *Config) { c.SecretKey = "" }, "secret key"},
		{"absolute prefix", func(c *Config) { c.Prefix = "/x/" }, "prefix"},
		{"dotdot prefix", func(c *Config) { c.Prefix = "a/../b" }, "prefix"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := valid
			tc.edit(&c)
			err := c.Validate()
			if err == nil || !strings.HasPrefix(err.Error(), tc.field+":") {
				t.Errorf("Validate = %v, want an error about %s", err, tc.field)
			}
		})
	}
	if (Config{Prefix: "a"}).prefix() != "a/" || (Config{Prefix: "a/"}).prefix() != "a/" || (Config{}).prefix() != "" {
		t.Errorf("prefix does not end in exactly one slash")
	}
}
