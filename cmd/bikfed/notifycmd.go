package main

import "github.com/bikfed/bikfed/node"

// notifyFlags registers the settings of the community's email
// notifications; the digest hour is read in the workspace's --time-zone.
func notifyFlags(s *settings, c *node.NotifyConfig) {
	s.fs.IntVar(&c.DigestHour, "digest-hour", c.DigestHour, "local hour (0-23, in --time-zone) at which members' daily community digests are sent")
	s.fs.DurationVar(&c.DigestEvery, "digest-every", c.DigestEvery, "send digests at this interval instead of daily (for tests and trying the digest out; at least 1s)")
	s.fs.IntVar(&c.Batch, "notify-batch", c.Batch, "most notification emails sent in one round")
	s.fs.DurationVar(&c.BatchPause, "notify-pause", c.BatchPause, "pause between rounds of notification emails while more are waiting")
	s.fs.DurationVar(&c.Poll, "notify-poll", c.Poll, "how often new community posts and due digests are looked for")
}
