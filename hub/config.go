package hub

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"time"

	"github.com/bikfed/bikfed/hub/portal"
	"github.com/bikfed/bikfed/internal/mail"
	"github.com/bikfed/bikfed/protocol"
)

// Config configures a hub.
type Config struct {
	// DataDir holds hub.db, the hub's signing key seed (hub.key) and, unless
	// AdminToken is set, the operator token (admin.token). Required.
	DataDir string
	// Listen is the address the HTTP server listens on (used by the caller that
	// creates the listener). Default "127.0.0.1:8080".
	Listen string
	// PublicURL is the hub's address as nodes and visitors reach it, e.g.
	// https://hub.betterinternetforkids.eu. Optional; used in messages and
	// in the coordination team's invitation links, which otherwise point at
	// the listen address.
	PublicURL string
	// Mail is the SMTP server that sends the coordination team's
	// invitations; without a host the links are handed to the operator.
	Mail mail.Config
	// AdminToken is the operator's bearer token. When empty, the token is read
	// from <DataDir>/admin.token, created (0600) on first open.
	AdminToken string
	// EnrolTokenTTL is how long a one-time enrolment token stays valid. Default 7 days.
	EnrolTokenTTL time.Duration
	// LongPollMax caps how long GET /v1/changes?wait= holds a request. Default 30s.
	LongPollMax time.Duration
	// MaxBatchBytes caps a push body after decompression; at most protocol.MaxBatchBytes.
	MaxBatchBytes int64
	// MaxBatchChanges caps the records in one push; at most protocol.MaxBatchChanges.
	MaxBatchChanges int
	// MaxRequestBytes caps a push body as sent (compressed). Default 32 MiB.
	MaxRequestBytes int64
	// MinisiteHosts maps host names to portal minisites (sid, youth, pocc).
	MinisiteHosts map[string]string
	// OAIAdminEmail is the contact the portal's OAI-PMH repository gives
	// harvesters: a bare email address. Default portal.DefaultAdminEmail.
	OAIAdminEmail string
	// OAIRepositoryName is the OAI-PMH repository's name, at most
	// portal.MaxRepositoryName characters. Default
	// portal.DefaultRepositoryName.
	OAIRepositoryName string
	// Gossip configures membership and sync hints (membership.go). Off by default.
	Gossip GossipConfig
	// LagSampleInterval is how often each node's lag is sampled for the status
	// page's 24-hour chart. Default 1m.
	LagSampleInterval time.Duration
	// LivenessWindow is how recent a node's last HTTP contact must be for it to
	// count as alive where gossip does not know it. Default 5m.
	LivenessWindow time.Duration
	// Blobs configures attachments: store, quotas, limits, collection (blobs.go).
	Blobs BlobConfig
	// TestFaultFile is for tests of failure handling only (the command sets
	// it from BIKFED_TEST_FAULT_FILE): while a file exists at this path,
	// every check of a change's attachments fails as a failed database read
	// would. Empty, the default, injects nothing.
	TestFaultFile string
	// Limits bounds what clients can take from the HTTP server (limits.go).
	Limits LimitConfig
	// Backup takes backups on a schedule while the hub serves (backup.go);
	// off unless Backup.To is set.
	Backup BackupConfig
	// Bulletin configures the bulletin's subscriptions and sending
	// (bulletinsend.go).
	Bulletin BulletinConfig
}

// DefaultConfig returns the settings a hub runs with unless configured otherwise.
// DataDir is left empty: it must be chosen.
func DefaultConfig() Config {
	return Config{
		Listen:            "127.0.0.1:8080",
		EnrolTokenTTL:     7 * 24 * time.Hour,
		LongPollMax:       30 * time.Second,
		MaxBatchBytes:     protocol.MaxBatchBytes,
		MaxBatchChanges:   protocol.MaxBatchChanges,
		MaxRequestBytes:   32 << 20,
		Gossip:            DefaultGossipConfig(),
		LagSampleInterval: time.Minute,
		LivenessWindow:    5 * time.Minute,
		Blobs:             DefaultBlobConfig(),
		Limits:            DefaultLimitConfig(),
		Backup:            BackupConfig{Every: 24 * time.Hour, Keep: 7},
		Bulletin:          DefaultBulletinConfig(),
		Mail:              mail.DefaultConfig(),
		OAIAdminEmail:     portal.DefaultAdminEmail,
		OAIRepositoryName: portal.DefaultRepositoryName,
	}
}

// minAdminToken keeps a configured operator token from being guessable.
const minAdminToken = 16

// Validate reports every invalid field at once, as "field: problem" errors.
func (c Config) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, args...)))
	}
	if c.DataDir == "" {
		bad("DataDir", "required")
	}
	if c.Listen == "" {
		bad("Listen", "required")
	} else if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		bad("Listen", "%q is not host:port: %v", c.Listen, err)
	}
	if c.PublicURL != "" {
		u, err := url.Parse(c.PublicURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("PublicURL", "%q is not an absolute http(s) URL", c.PublicURL)
		}
	}
	if err := portal.ValidateAdminEmail(c.OAIAdminEmail); err != nil {
		bad("OAIAdminEmail", "%v", err)
	}
	if err := portal.ValidateRepositoryName(c.OAIRepositoryName); err != nil {
		bad("OAIRepositoryName", "%v", err)
	}
	if err := c.Mail.Validate(); err != nil {
		bad("Mail", "%v", err)
	}
	if c.AdminToken != "" && len(c.AdminToken) < minAdminToken {
		bad("AdminToken", "shorter than %d characters", minAdminToken)
	}
	if c.EnrolTokenTTL <= 0 {
		bad("EnrolTokenTTL", "must be positive")
	}
	if c.LongPollMax <= 0 || c.LongPollMax > 5*time.Minute {
		bad("LongPollMax", "must be between 0 and 5m, got %s", c.LongPollMax)
	}
	if c.MaxBatchBytes <= 0 || c.MaxBatchBytes > protocol.MaxBatchBytes {
		bad("MaxBatchBytes", "must be between 1 and %d", protocol.MaxBatchBytes)
	}
	if c.MaxBatchChanges <= 0 || c.MaxBatchChanges > protocol.MaxBatchChanges {
		bad("MaxBatchChanges", "must be between 1 and %d", protocol.MaxBatchChanges)
	}
	if c.MaxRequestBytes <= 0 {
		bad("MaxRequestBytes", "must be positive")
	}
	if c.LagSampleInterval <= 0 {
		bad("LagSampleInterval", "must be positive")
	}
	if c.LivenessWindow <= 0 {
		bad("LivenessWindow", "must be positive")
	}
	c.Blobs.validate(bad)
	if c.Backup.To != "" && c.Backup.Every < minBackupEvery {
		bad("Backup.Every", "must be at least a minute")
	}
	if c.Backup.Keep < 0 {
		bad("Backup.Keep", "must not be negative")
	}
	c.Limits.validate(bad)
	c.Bulletin.validate(bad)
	errs = append(errs, c.Gossip.validate(protocol.HubID)...)
	return errors.Join(errs...)
}
