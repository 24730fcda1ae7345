package s3

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/minio/minio-go/v7/pkg/s3utils"
)

// Config says where the blobs live.
type Config struct {
	// Endpoint is host[:port] of the S3 service, without scheme, e.g.
	// "127.0.0.1:9000" or "s3.eu-central-1.amazonaws.com".
	Endpoint string
	// Bucket holds the blobs; New creates it if it is missing.
	Bucket string
	// Region of the bucket; MinIO accepts any, AWS needs the right one.
	Region string
	// AccessKey and SecretKey are static credentials.
	AccessKey string
	SecretKey string
	// UseSSL selects https. Off only for a MinIO on loopback or a private
	// network: the keys sign requests but do not encrypt the blobs.
	UseSSL bool
	// Prefix lets several deployments share a bucket: blobs live under
	// <Prefix>blobs/ (and temporary uploads of earlier versions under <Prefix>tmp/). A prefix
	// without a trailing slash gets one.
	Prefix string
}

// DefaultConfig has the fields that have a sensible default filled in.
func DefaultConfig() Config {
	return Config{Bucket: "bikfed", Region: "us-east-1", UseSSL: true}
}

// ConfigFromEnv is DefaultConfig overridden by the environment:
// BIKFED_S3_ENDPOINT (a scheme, "http://" or "https://", sets UseSSL; a bare
// host keeps it on), BIKFED_S3_BUCKET, BIKFED_S3_PREFIX, AWS_REGION (or
// AWS_DEFAULT_REGION), and the keys from AWS_ACCESS_KEY_ID and
// AWS_SECRET_ACCESS_KEY, else from MINIO_ROOT_USER and MINIO_ROOT_PASSWORD so
// that a MinIO started with those variables works as is.
func ConfigFromEnv() Config {
	return configFrom(os.Getenv)
}

func configFrom(getenv func(string) string) Config {
	cfg := DefaultConfig()
	first := func(keys ...string) string {
		for _, k := range keys {
			if v := getenv(k); v != "" {
				return v
			}
		}
		return ""
	}
	if ep := getenv("BIKFED_S3_ENDPOINT"); ep != "" {
		switch {
		case strings.HasPrefix(ep, "http://"):
			cfg.UseSSL = false
		case strings.HasPrefix(ep, "https://"):
			cfg.UseSSL = true
		}
		ep = strings.TrimPrefix(strings.TrimPrefix(ep, "http://"), "https://")
		cfg.Endpoint = strings.TrimSuffix(ep, "/")
	}
	if v := getenv("BIKFED_S3_BUCKET"); v != "" {
		cfg.Bucket = v
	}
	cfg.Prefix = getenv("BIKFED_S3_PREFIX")
	if v := first("AWS_REGION", "AWS_DEFAULT_REGION"); v != "" {
		cfg.Region = v
	}
	// The keys come as a pair: mixing an AWS id with a MinIO password
	// would only produce a confusing signature error.
	if id := getenv("AWS_ACCESS_KEY_ID"); id != "" {
		cfg.AccessKey, cfg.SecretKey = id, getenv("AWS_SECRET_ACCESS_KEY")
	} else {
		cfg.AccessKey, cfg.SecretKey = getenv("MINIO_ROOT_USER"), getenv("MINIO_ROOT_PASSWORD")
	}
	return cfg
}

// Validate reports every field that is wrong, one error per field.
func (c Config) Validate() error {
	var errs []error
	switch {
	case c.Endpoint == "":
		errs = append(errs, errors.New("endpoint: required"))
	case strings.Contains(c.Endpoint, "://") || strings.Contains(c.Endpoint, "/"):
		errs = append(errs, fmt.Errorf("endpoint: %q must be host[:port], without scheme or path (UseSSL chooses https)", c.Endpoint))
	}
	if err := s3utils.CheckValidBucketNameStrict(c.Bucket); err != nil {
		errs = append(errs, fmt.Errorf("bucket: %q: %w", c.Bucket, err))
	}
	if c.AccessKey == "" {
		errs = append(errs, errors.New("access key: required"))
	}
	if c.SecretKey == "" {
		errs = append(errs, errors.New("secret key: required"))
	}
	if strings.HasPrefix(c.Prefix, "/") || strings.Contains(c.Prefix, "..") {
		errs = append(errs, fmt.Errorf("prefix: %q must be relative and without ..", c.Prefix))
	}
	return errors.Join(errs...)
}

// prefix returns Prefix with the trailing slash that separates it from
// "blobs/".
func (c Config) prefix() string {
	if c.Prefix == "" || strings.HasSuffix(c.Prefix, "/") {
		return c.Prefix
	}
	return c.Prefix + "/"
}
