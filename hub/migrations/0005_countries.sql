-- The countries each node may publish a profile for (its helpline, hotline
-- and awareness centre on the portal), as lowercase ISO 3166 alpha-2 codes
-- separated by commas. A national SIC speaks for its own country: nodes
-- registered before this binding get their id when it is a country code, any
-- other node (the hub among them) none.
ALTER TABLE nodes ADD COLUMN countries TEXT NOT NULL DEFAULT '';
UPDATE nodes SET countries = id WHERE length(id) = 2 AND id GLOB '[a-z][a-z]';

-- The live profiles, read when a push carries a profile: at most one per
-- country.
CREATE INDEX entities_live_profiles ON entities (id) WHERE kind = 'profile' AND deleted = 0;
