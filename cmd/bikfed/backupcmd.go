package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/bikfed/bikfed/hub"
	"github.com/bikfed/bikfed/internal/dirlock"
)

// hubBackupFlags registers the settings of scheduled backups (hub serve).
func hubBackupFlags(s *settings, cfg *hub.Config) {
	s.fs.StringVar(&cfg.Backup.To, "backup-to", cfg.Backup.To, `take backups while serving, to a directory or to "s3:" (the hub's S3 bucket, under backups/)`)
	s.fs.DurationVar(&cfg.Backup.Every, "backup-every", cfg.Backup.Every, "time between two scheduled backups")
	s.fs.IntVar(&cfg.Backup.Keep, "backup-keep", cfg.Backup.Keep, "how many backups to keep, the newest (0: all)")
}

// hubBackup is "bikfed hub backup --to DEST": one backup now, whether or not
// the hub runs, since the database is read in one transaction of its own.
func (e *cmdEnv) hubBackup(ctx context.Context, args []string) error {
	var (
		to   string
		keep = -1
	)
	cfg, log, err := e.parseHub("backup", args, func(s *settings) {
		s.fs.StringVar(&to, "to", "", `where the backup goes: a directory, or "s3:" for the hub's S3 bucket (default: --backup-to)`)
		s.fs.IntVar(&keep, "keep", -1, "keep only the newest N backups there (default: --backup-keep)")
	})
	if err != nil {
		return err
	}
	if to == "" {
		to = cfg.Backup.To
	}
	if to == "" {
		return errors.New("backup: give --to DIR or --to s3:")
	}
	if keep < 0 {
		keep = cfg.Backup.Keep
	}
	start := time.Now()
	m, err := hub.TakeBackup(ctx, cfg, to, keep, log)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "backup %s: hub_seq %d, %d nodes, %d files, %d attachments (%d copied) in %s\n",
		m.Name, m.HubSeq, m.Nodes, len(m.Files), m.Blobs, m.BlobsCopied, time.Since(start).Round(time.Millisecond))
	return nil
}

// hubRestore is "bikfed hub restore --from SRC": the hub must be stopped.
func (e *cmdEnv) hubRestore(ctx context.Context, args []string) error {
	var from string
	cfg, log, err := e.parseHub("restore", args, func(s *settings) {
		s.fs.StringVar(&from, "from", "", `the backup: its directory, a backup directory's parent (the newest in it), "s3:" (the newest in the hub's bucket) or "s3:NAME"`)
	})
	if err != nil {
		return err
	}
	if from == "" {
		return errors.New("restore: give --from")
	}
	lock, err := dirlock.TryLock(cfg.DataDir, hubLockFile)
	if errors.Is(err, dirlock.ErrLocked) {
		return fmt.Errorf("restore: a hub is running on %s: stop it first", cfg.DataDir)
	}
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	defer lock.Unlock()
	m, err := hub.RestoreBackup(ctx, cfg, from, log)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "restored backup %s (taken %s, hub_seq %d, %d nodes) into %s; start the hub: nodes send again what they wrote since\n",
		m.Name, m.TakenAt.Format(time.RFC3339), m.HubSeq, m.Nodes, cfg.DataDir)
	return nil
}
