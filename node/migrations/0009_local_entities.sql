-- local marks an own entity that never leaves this node: a post of the
-- SIC's national youth space (youth:<node id>) and every comment on one.
-- Such an entity is stored unsigned, with no outbox row (outbox_seq and
-- signed_version stay 0, change stays NULL), and reconciliation never sends
-- it: what young people write for their own SIC stays with their SIC.
ALTER TABLE entities ADD COLUMN local INTEGER NOT NULL DEFAULT 0;
