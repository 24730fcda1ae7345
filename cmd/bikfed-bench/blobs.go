package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/bikfed/bikfed/internal/miniotest"
	"github.com/bikfed/bikfed/protocol"
)

// blobRounds is how many times each upload is timed, alternating baseline
// and bikfed; the best of each counts, which is the least disturbed by
// whatever else the shared machine does.
const blobRounds = 2

// blobReport is the attachment section of the report.
type blobReport struct {
	size           int64
	direct, bikfed []time.Duration
	hubPeakKB      int64
	skipped        bool
}

// benchBlobs times the upload of a large file node→hub→MinIO through the
// sync API (what a node does) against minio-go's own PutObject of the same
// file to the same server, in the same run.
func benchBlobs(ctx context.Context, cfg benchConfig, dir string) (*blobReport, error) {
	rep := &blobReport{size: cfg.blobSize}
	if cfg.blobSize <= 0 {
		rep.skipped = true
		return rep, nil
	}
	fmt.Fprintln(os.Stderr, "attachments: starting MinIO…")
	srv, err := miniotest.StartProcess(filepath.Join(dir, "minio"))
	if err != nil {
		return nil, err
	}
	defer srv.Stop()
	mc, err := minio.New(srv.Endpoint, &minio.Options{Creds: credentials.NewStaticV4(srv.AccessKey, srv.SecretKey, "")})
	if err != nil {
		return nil, err
	}
	const baselineBucket = "bench-direct"
	if err := mc.MakeBucket(ctx, baselineBucket, minio.MakeBucketOptions{}); err != nil {
		return nil, err
	}

	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	hubURL := "http://" + addr
	hubDir := filepath.Join(dir, "blob-hub")
	hubProc := exec.Command(cfg.bin, "hub", "serve", "--data", hubDir, "--listen", addr, "--log-level", "warn",
		"--blob-store", "s3", "--s3-endpoint", "http://"+srv.Endpoint, "--s3-bucket", "bench-hub")
	hubProc.Env = append(os.Environ(), "AWS_ACCESS_KEY_ID="+srv.AccessKey, "AWS_SECRET_ACCESS_KEY="+srv.SecretKey)
	hubProc.Stderr = os.Stderr
	if err := hubProc.Start(); err != nil {
		return nil, fmt.Errorf("start hub: %w", err)
	}
	defer func() { hubProc.Process.Signal(syscall.SIGTERM); hubProc.Wait() }()
	if err := waitHTTP(ctx, hubURL+"/healthz"); err != nil {
		return nil, err
	}
	token, err := cli(cfg.bin, "hub", "register-node", "be", "--name", "Benchmark SIC", "--data", hubDir)
	if err != nil {
		return nil, err
	}
	key, err := protocol.GenerateKey("be")
	if err != nil {
		return nil, err
	}
	ccfg := protocol.DefaultClientConfig(hubURL)
	enrol, err := protocol.NewClient(ccfg).Enrol(ctx, protocol.EnrolRequest{Node: "be", Token: token, KeyID: key.ID, PublicKey: key.Public(), Epoch: "bench"})
	if err != nil {
		return nil, err
	}
	ccfg.Credential = enrol.Credential
	client := protocol.NewClient(ccfg)

	for round := range blobRounds {
		// A new file each round: the hub never takes a blob it has twice.
		path := filepath.Join(dir, fmt.Sprintf("video-%d.mp4", round))
		fmt.Fprintf(os.Stderr, "attachments: writing a %d MiB file…\n", cfg.blobSize>>20)
		sha, err := writeStream(path, uint64(round+1), cfg.blobSize)
		if err != nil {
			return nil, err
		}
		ref := protocol.BlobRef{SHA256: sha, Size: cfg.blobSize, MediaType: "video/mp4", Name: filepath.Base(path)}

		settle()
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		t0 := time.Now()
		_, err = mc.PutObject(ctx, baselineBucket, "direct", f, cfg.blobSize, minio.PutObjectOptions{ContentType: ref.MediaType})
		d := time.Since(t0)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("baseline PutObject: %w", err)
		}
		rep.direct = append(rep.direct, d)
		fmt.Fprintf(os.Stderr, "attachments: minio-go PutObject %v\n", d.Round(time.Millisecond))
		if err := mc.RemoveObject(ctx, baselineBucket, "direct", minio.RemoveObjectOptions{}); err != nil {
			return nil, err
		}

		settle()
		f, err = os.Open(path)
		if err != nil {
			return nil, err
		}
		t0 = time.Now()
		res, err := client.UploadBlob(ctx, ref, f, nil)
		d = time.Since(t0)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("upload through the hub: %w", err)
		}
		if res.Skipped || res.Sent != cfg.blobSize {
			return nil, fmt.Errorf("upload through the hub: %+v, want the whole file sent", res)
		}
		oi, err := mc.StatObject(ctx, "bench-hub", "blobs/"+sha, minio.StatObjectOptions{})
		if err != nil || oi.Size != cfg.blobSize {
			return nil, fmt.Errorf("the uploaded blob is not in MinIO: %+v, %v", oi, err)
		}
		rep.bikfed = append(rep.bikfed, d)
		fmt.Fprintf(os.Stderr, "attachments: node→hub→MinIO %v\n", d.Round(time.Millisecond))
		// Room for the next round on the disk.
		if err := mc.RemoveObject(ctx, "bench-hub", "blobs/"+sha, minio.RemoveObjectOptions{}); err != nil {
			return nil, err
		}
		os.Remove(path)
	}
	rep.hubPeakKB = peakKB(hubProc.Process.Pid)
	return rep, nil
}

// settle writes dirty pages out before a timed upload, so that one upload's
// writeback does not slow the next one down.
func settle() {
	syscall.Sync()
	time.Sleep(500 * time.Millisecond)
}

// writeStream writes size deterministic pseudo-random bytes (incompressible,
// like video) to path and returns their SHA-256; nothing is held in memory.
func writeStream(path string, seed uint64, size int64) (string, error) {
	f, err := os.Create(path)
	if err != nil {
		return "", err
	}
	var k [32]byte
	k[0] = byte(seed)
	h := sha256.New()
	if _, err := io.Copy(io.MultiWriter(f, h), io.LimitReader(rand.NewChaCha8(k), size)); err != nil {
		f.Close()
		return "", err
	}
	if err := f.Close(); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func best(ds []time.Duration) time.Duration {
	b := ds[0]
	for _, d := range ds[1:] {
		b = min(b, d)
	}
	return b
}

func (r *blobReport) ratio() float64 {
	return best(r.direct).Seconds() / best(r.bikfed).Seconds()
}

func (r *blobReport) markdown() string {
	if r.skipped {
		return ""
	}
	mbps := func(d time.Duration) string {
		return fmt.Sprintf("%.0f MB/s (%.2f s)", float64(r.size)/1e6/d.Seconds(), d.Seconds())
	}
	all := func(ds []time.Duration) string {
		var s []string
		for _, d := range ds {
			s = append(s, fmt.Sprintf("%.2f s", d.Seconds()))
		}
		return strings.Join(s, ", ")
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\n## Attachments: upload throughput\n\n")
	fmt.Fprintf(&b, "A %d MiB file of incompressible bytes, uploaded by a node to the hub, which stores it in MinIO (a local server started by the run, one drive): `HEAD`, then one `PUT` streamed by the sync API client, staged on the hub's disk for resumption while it streams into a multipart upload, hashed on the way and completed only once the SHA-256 matched. The baseline is minio-go's `PutObject` of the same file to the same server, in the same run. Best of %d alternating rounds each.\n\n", r.size>>20, len(r.direct))
	fmt.Fprintf(&b, "| measure | value |\n|---|---|\n")
	fmt.Fprintf(&b, "| baseline: minio-go `PutObject` straight to MinIO | %s |\n", mbps(best(r.direct)))
	fmt.Fprintf(&b, "| bikfed: node → hub → MinIO | %s |\n", mbps(best(r.bikfed)))
	fmt.Fprintf(&b, "| all rounds (baseline; bikfed) | %s; %s |\n", all(r.direct), all(r.bikfed))
	fmt.Fprintf(&b, "| **ratio** (target ≥ 0.7) | **%.2f** — %s |\n", r.ratio(), verdict(r.ratio() >= 0.7))
	fmt.Fprintf(&b, "| hub peak RSS, whole attachment run | %.0f MiB |\n", float64(r.hubPeakKB)/1024)
	return b.String()
}
