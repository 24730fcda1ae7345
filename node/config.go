package node

import (
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/bikfed/bikfed/internal/mail"
	"github.com/bikfed/bikfed/protocol"
)

// Config configures a running node. Enrolment data (hub URL, credential,
// epoch) is not configuration: Init stores it in the node's database.
type Config struct {
	// DataDir holds node.db, node.key and admin.token. Required.
	DataDir string `json:"data_dir"`
	// Listen is the admin API address. It defaults to loopback because the
	// admin API can author and erase content; expose it only behind a proxy.
	Listen string `json:"listen"`
	// AdminToken is the admin API's bearer token. When empty, the token in
	// <DataDir>/admin.token is used, created (0600) on first open.
	AdminToken string `json:"admin_token,omitempty"`
	// Schedules are robfig/cron specs ("@every 1m", "*/5 * * * *").
	Schedules Schedules `json:"schedules"`
	// LongPoll keeps a pull request waiting at the hub so shared content
	// arrives within seconds; the cron pull remains as the backstop.
	LongPoll bool `json:"long_poll"`
	// LongPollWait is how long the hub may hold a long-poll (the hub caps it at 30s).
	LongPollWait time.Duration `json:"long_poll_wait"`
	// PushBatch is the most changes sent in one push; a batch is also kept
	// under protocol.MaxBatchBytes.
	PushBatch int `json:"push_batch"`
	// PushDebounce is how long after a local write the push starts, so a
	// burst of edits goes out as one batch.
	PushDebounce time.Duration `json:"push_debounce"`
	// Client configures the sync API client.
	Client ClientConfig `json:"client"`
	// MaxImportBytes limits one bulk import request body on the admin API.
	MaxImportBytes int64 `json:"max_import_bytes"`
	// RefusalRetention is how long refusals are kept for the status page.
	RefusalRetention time.Duration `json:"refusal_retention"`
	// Blobs configures attachments (blobs.go).
	Blobs BlobConfig `json:"blobs"`
	// Gossip configures membership and sync hints (membership.go). Off by default.
	Gossip GossipConfig `json:"gossip"`
	// MapDatabase maps node.db into its readers' memory (readerMmap), for a
	// running node: its community search reads pages all over a large
	// full-text index. A one-shot command (sync, status) reads few pages
	// and maps nothing, so its resident set is its own memory, not the
	// pages of node.db it passed through.
	MapDatabase bool `json:"-"`
	// ReadyMaxSyncFailure is how long push or pull may keep failing before
	// /readyz reports the node not ready.
	ReadyMaxSyncFailure time.Duration `json:"ready_max_sync_failure"`
	// Clock is the local clock; nil means time.Now. The node measures the
	// hub's clock against it and schedules publication by the hub's time.
	// Tests set it to run a node whose clock is wrong.
	Clock func() time.Time `json:"-"`
	// Limits bounds what clients can take from the admin API (limits.go).
	Limits LimitConfig `json:"limits"`
	// PublicURL is the node's address as its people reach it, the base of
	// the links in invitations. Empty means http://<the listen address>.
	PublicURL string `json:"public_url"`
	// Mail is the SMTP server that sends invitations; without a host the
	// links are handed to whoever added the member.
	Mail mail.Config `json:"mail"`
	// Notify configures the community's email notifications (notifysend.go).
	Notify NotifyConfig `json:"notify"`
}

// Schedules are the node's cron schedules.
type Schedules struct {
	// Push sends whatever the outbox holds, in case a debounced push failed.
	Push string `json:"push"`
	// Pull is the anti-entropy backstop to the long-poll loop.
	Pull string `json:"pull"`
	// Publish signs scheduled entities whose publish_at has come.
	Publish string `json:"publish"`
	// Housekeeping prunes old refusals, optimises and checkpoints the database.
	Housekeeping string `json:"housekeeping"`
}

// ClientConfig configures the node's client of the hub's sync API.
type ClientConfig struct {
	// Timeout bounds one request; long-polls add their wait to it.
	Timeout time.Duration `json:"timeout"`
	// Retries is how often a failed request is retried, with backoff and jitter.
	Retries int `json:"retries"`
	// RetryWait and RetryMaxWait bound the backoff between retries.
	RetryWait    time.Duration `json:"retry_wait"`
	RetryMaxWait time.Duration `json:"retry_max_wait"`
}

// DefaultConfig returns the configuration a node runs with unless told otherwise.
func DefaultConfig() Config {
	return Config{
		Listen: "127.0.0.1:8081",
		Schedules: Schedules{
			Push:         "@every 1m",
			Pull:         "@every 1m",
			Publish:      "@every 30s",
			Housekeeping: "@every 1h",
		},
		LongPoll:            true,
		LongPollWait:        25 * time.Second,
		PushBatch:           500,
		PushDebounce:        500 * time.Millisecond,
		Client:              ClientConfig{Timeout: 60 * time.Second, Retries: 4, RetryWait: 250 * time.Millisecond, RetryMaxWait: 10 * time.Second},
		MaxImportBytes:      256 << 20,
		RefusalRetention:    30 * 24 * time.Hour,
		Gossip:              DefaultGossipConfig(),
		Blobs:               DefaultBlobConfig(),
		ReadyMaxSyncFailure: 10 * time.Minute,
		Limits:              DefaultLimitConfig(),
		Mail:                mail.DefaultConfig(),
		Notify:              DefaultNotifyConfig(),
	}
}

// Validate checks every field and reports all problems at once, each as
// "field: problem".
func (c Config) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, args...)))
	}
	if c.DataDir == "" {
		bad("data_dir", "required")
	}
	if _, port, err := net.SplitHostPort(c.Listen); err != nil {
		bad("listen", "%q is not host:port: %v", c.Listen, err)
	} else if port == "" {
		bad("listen", "%q has no port", c.Listen)
	}
	if c.AdminToken != "" && len(c.AdminToken) < 16 {
		bad("admin_token", "must be at least 16 characters")
	}
	if err := validPublicURL(c.PublicURL); err != nil {
		bad("public_url", "%v", err)
	}
	if err := c.Mail.Validate(); err != nil {
		bad("mail", "%v", err)
	}
	for _, s := range []struct{ field, spec string }{
		{"schedules.push", c.Schedules.Push},
		{"schedules.pull", c.Schedules.Pull},
		{"schedules.publish", c.Schedules.Publish},
		{"schedules.housekeeping", c.Schedules.Housekeeping},
	} {
		if s.spec == "" {
			bad(s.field, "required")
			continue
		}
		if _, err := cron.ParseStandard(s.spec); err != nil {
			bad(s.field, "%q is not a cron spec: %v", s.spec, err)
		}
	}
	if c.LongPoll && (c.LongPollWait <= 0 || c.LongPollWait > 30*time.Second) {
		bad("long_poll_wait", "%s must be more than 0 and at most 30s", c.LongPollWait)
	}
	if c.PushBatch < 1 || c.PushBatch > protocol.MaxBatchChanges {
		bad("push_batch", "%d must be between 1 and %d", c.PushBatch, protocol.MaxBatchChanges)
	}
	if c.PushDebounce < 0 || c.PushDebounce > time.Minute {
		bad("push_debounce", "%s must be between 0 and 1m", c.PushDebounce)
	}
	if c.Client.Timeout <= 0 {
		bad("client.timeout", "must be positive")
	}
	if c.Client.Retries < 0 || c.Client.Retries > 20 {
		bad("client.retries", "%d must be between 0 and 20", c.Client.Retries)
	}
	if c.Client.RetryWait < 0 {
		bad("client.retry_wait", "must not be negative")
	}
	if c.Client.RetryMaxWait < c.Client.RetryWait {
		bad("client.retry_max_wait", "must not be less than client.retry_wait")
	}
	if c.MaxImportBytes < 1<<20 {
		bad("max_import_bytes", "%d must be at least 1 MiB", c.MaxImportBytes)
	}
	if c.RefusalRetention < time.Hour {
		bad("refusal_retention", "%s must be at least 1h", c.RefusalRetention)
	}
	c.Blobs.validate(bad)
	c.Limits.validate(bad)
	c.Notify.validate(bad)
	if c.ReadyMaxSyncFailure <= 0 {
		bad("ready_max_sync_failure", "must be positive")
	}
	errs = append(errs, c.Gossip.validate()...)
	return errors.Join(errs...)
}

// clientConfig builds the sync client settings for the enrolled hub.
func (c ClientConfig) clientConfig(hubURL, credential string) protocol.ClientConfig {
	pc := protocol.DefaultClientConfig(hubURL)
	pc.Credential = credential
	if c.Timeout > 0 {
		pc.Timeout = c.Timeout
	}
	pc.Retries = c.Retries
	if c.RetryWait > 0 {
		pc.RetryWait = c.RetryWait
	}
	if c.RetryMaxWait > 0 {
		pc.RetryMaxWait = c.RetryMaxWait
	}
	pc.UserAgent = "bikfed-node/1"
	return pc
}
