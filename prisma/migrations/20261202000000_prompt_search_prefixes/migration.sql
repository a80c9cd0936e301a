-- Prefix indexes for every prefix length from 2 to 8 characters (20261124010000_prompt_search
-- made them for 2 and 3 only).
--
-- Why: a prefix query with no index of exactly its length (`summar*`) makes FTS5 gather the
-- doclists of every term starting that way and merge them in memory, for each cursor that reads
-- the expression, and bm25() opens one more to count the matching rows. At 100,000 prompts a
-- `summar*` that matches every prompt cost about 15 ms in the statement of searchPrompts, 4.5 ms
-- with an index of length 6. A prefix longer than 8 characters still takes the slow path; such
-- prefixes are rarely typed and usually match few terms.
-- The price: every indexed token of at least n characters is also written to the index of length
-- n, so the FTS5 data grew from 35 to 68 MB for the 100,000 prompts of the search benchmark, and
-- indexing a prompt costs more.
--
-- FTS5 cannot change the option of an existing table: drop it (with the fts5vocab table over it),
-- create it again and refill it from PromptSearchSource. The triggers of
-- 20261124010000_prompt_search belong to Prompt, PromptVersion and PromptTag and name
-- PromptSearch only in their bodies, so they stay and write to the new table unchanged.

DROP TABLE "PromptSearchVocab";
DROP TABLE "PromptSearch";

CREATE VIRTUAL TABLE "PromptSearch" USING fts5(
    name,
    description,
    tags,
    content,
    -- Case- and accent-insensitive words; `_`, `-`, `/`, `:` separate words.
    tokenize = 'unicode61 remove_diacritics 2',
    prefix = '2 3 4 5 6 7 8'
);

CREATE VIRTUAL TABLE "PromptSearchVocab" USING fts5vocab('PromptSearch', 'col');

INSERT INTO "PromptSearch"(rowid, name, description, tags, content)
SELECT rid, name, description, tags, content FROM "PromptSearchSource";
