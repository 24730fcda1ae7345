-- lag_samples is the history behind the status page's 24-hour lag chart:
-- each node's lag, sampled every LagSampleInterval (a minute by default)
-- while the hub serves, and pruned after 25 hours.
CREATE TABLE lag_samples (
	node             TEXT NOT NULL,
	at               INTEGER NOT NULL, -- unix ms
	pull_lag         INTEGER NOT NULL, -- hub changes the node has not pulled
	pull_lag_seconds REAL NOT NULL,    -- age of the oldest of them
	push_lag         INTEGER NOT NULL, -- node changes the hub has not received
	PRIMARY KEY (node, at)
) STRICT, WITHOUT ROWID;
-- Pruning and the chart read by time across all nodes.
CREATE INDEX lag_samples_at ON lag_samples (at);
