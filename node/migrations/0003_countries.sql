-- The countries the hub lets this node publish a profile for, as its
-- enrolment answer gave them (comma-separated ISO 3166 codes). NULL: enrolled
-- with a hub that did not say; the node then assumes the hub's default, its
-- own id when that is a country code.
ALTER TABLE identity ADD COLUMN countries TEXT;
