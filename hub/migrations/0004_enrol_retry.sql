-- An enrolment whose answer was lost may be sent again: the token remembers
-- the key and epoch it was used with, and the same request (same key, same
-- epoch) gets a new credential until the token expires.
ALTER TABLE enrol_tokens ADD COLUMN used_key_id TEXT;
ALTER TABLE enrol_tokens ADD COLUMN used_epoch TEXT;
