-- The community search index's vocabulary: each word with the number of
-- rows that hold it. A search ranks its matches with these counts (bm25's
-- weight of a word) instead of having FTS5 count every row of a common
-- word at each search. fts5vocab stores nothing of its own: it reads the
-- index, so it is always in step and an erased text leaves it with the
-- index.
CREATE VIRTUAL TABLE community_fts_terms USING fts5vocab(community_fts, row);
