package node

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/robfig/cron/v3"
)

// cronLogger adapts slog to robfig/cron. Cron's own info messages (every
// wake-up) are debug noise here.
type cronLogger struct{ log *slog.Logger }

func (l cronLogger) Info(msg string, kv ...any) { l.log.Debug(msg, kv...) }
func (l cronLogger) Error(err error, msg string, kv ...any) {
	l.log.Error(msg, append(kv, "err", err)...)
}

// startCron starts the configured schedules. Each job runs with ctx, so
// stopping the node cancels running jobs, and a job still running when its
// next turn comes is skipped rather than stacked.
func (n *Node) startCron(ctx context.Context) (*cron.Cron, error) {
	logger := cronLogger{n.log.With("component", "cron")}
	c := cron.New(cron.WithLogger(logger), cron.WithChain(cron.Recover(logger), cron.SkipIfStillRunning(logger)))
	jobs := []struct {
		name, spec string
		run        func(context.Context) error
	}{
		{"push", n.cfg.Schedules.Push, n.Push},
		{"pull", n.cfg.Schedules.Pull, n.Pull},
		{"publish", n.cfg.Schedules.Publish, func(ctx context.Context) error {
			_, err := n.PublishDue(ctx, n.now())
			return err
		}},
		{"housekeeping", n.cfg.Schedules.Housekeeping, n.Housekeeping},
	}
	for _, j := range jobs {
		_, err := c.AddFunc(j.spec, func() {
			if err := j.run(ctx); err != nil && ctx.Err() == nil {
				n.log.Warn("scheduled job failed; retrying on its next run", "job", j.name, "err", err)
			}
		})
		if err != nil {
			return nil, fmt.Errorf("schedule %s %q: %w", j.name, j.spec, err)
		}
	}
	c.Start()
	return c, nil
}

// Housekeeping prunes old refusals, lets SQLite refresh its statistics,
// recounts the community search's common words and, after erasures,
// checkpoints the WAL so purged text leaves it.
func (n *Node) Housekeeping(ctx context.Context) error {
	cutoff := fmtTime(time.Now().Add(-n.cfg.RefusalRetention))
	res, err := n.db.Writer().ExecContext(ctx, `DELETE FROM refusals WHERE at < ?`, cutoff)
	if err != nil {
		return fmt.Errorf("housekeeping: prune refusals: %w", err)
	}
	pruned, _ := res.RowsAffected()
	if _, err := n.db.Writer().ExecContext(ctx, `PRAGMA optimize`); err != nil {
		return fmt.Errorf("housekeeping: optimize: %w", err)
	}
	if err := n.settleErasures(ctx); err != nil {
		return fmt.Errorf("housekeeping: %w", err)
	}
	if err := n.RefreshPersonErasures(ctx); err != nil && ctx.Err() == nil {
		// The hub's answer only feeds the admins' page; the next round asks again.
		n.log.Warn("person erasure status not refreshed", "err", err)
	}
	if err := n.blobHousekeeping(ctx); err != nil {
		return fmt.Errorf("housekeeping: %w", err)
	}
	if err := n.RefreshSearchStats(ctx); err != nil {
		return fmt.Errorf("housekeeping: %w", err)
	}
	if n.needCheckpoint.Swap(false) {
		if err := n.db.Checkpoint(ctx); err != nil {
			n.needCheckpoint.Store(true)
			return fmt.Errorf("housekeeping: %w", err)
		}
	}
	n.log.Debug("housekeeping done", "refusals_pruned", pruned)
	return nil
}
