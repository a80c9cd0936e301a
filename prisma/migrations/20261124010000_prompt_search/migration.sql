-- Full-text search over prompts with SQLite FTS5. Hand-written: Prisma does not model virtual
-- tables, so prisma.config.ts lists every table made here under `tables.external` (the FTS table,
-- its five shadow tables and the vocabulary table) and migrate does not see them as drift.
--
-- One FTS row per prompt; its rowid IS the Prompt row's implicit rowid (Prompt has a TEXT
-- primary key, so SQLite gives it one), which makes the join to Prompt a rowid lookup.
-- The row holds what is searchable: name, description, tags (space-joined) and the LATEST
-- version's content (for CHAT prompts the messages' contents, one per line).
--
-- The triggers below keep it current by recomputing a prompt's whole row from the tables
-- (PromptSearchSource) whenever something it is made of changes, so every write path of the
-- service (create, update, rollback, import, tag changes, delete) is covered without it
-- knowing about search.
--
-- CAUTION for later migrations: a Prisma "RedefineTables" of Prompt (CREATE new_Prompt,
-- INSERT ... SELECT, DROP, RENAME) drops these triggers with the old table and renumbers the
-- rowids. Such a migration must re-create the Prompt triggers and rebuild the index:
--   DELETE FROM "PromptSearch";
--   INSERT INTO "PromptSearch"(rowid, name, description, tags, content)
--     SELECT rid, name, description, tags, content FROM "PromptSearchSource";
-- tests/search.test.ts checks that the triggers exist after all migrations.

CREATE VIRTUAL TABLE "PromptSearch" USING fts5(
    name,
    description,
    tags,
    content,
    -- Case- and accent-insensitive words; `_`, `-`, `/`, `:` separate words.
    tokenize = 'unicode61 remove_diacritics 2',
    -- Prefix indexes for 2- and 3-character prefixes: `we*` and `wel*` read one doclist
    -- instead of merging the doclists of every term that starts that way.
    prefix = '2 3'
);

-- Per-column document frequencies (term, col, doc, cnt), for picking a prompt's distinctive
-- terms (similarPrompts).
CREATE VIRTUAL TABLE "PromptSearchVocab" USING fts5vocab('PromptSearch', 'col');

-- What a prompt's FTS row must contain, computed from the tables. `rid` is Prompt's rowid.
CREATE VIEW "PromptSearchSource" AS
SELECT
    p.rowid AS rid,
    p."name" AS name,
    coalesce(p."description", '') AS description,
    coalesce((SELECT group_concat(t."tag", ' ')
              FROM (SELECT "tag" FROM "PromptTag" WHERE "promptId" = p."id" ORDER BY "tag") AS t), '') AS tags,
    coalesce((SELECT CASE
                       WHEN p."type" = 'CHAT' AND json_valid(v."content") THEN
                         (SELECT group_concat(json_extract(m.value, '$.content'), char(10)) FROM json_each(v."content") AS m)
                       ELSE v."content"
                     END
              FROM "PromptVersion" v
              WHERE v."promptId" = p."id" AND v."number" = p."latestVersionNumber"), '') AS content
FROM "Prompt" p;

-- Backfill the prompts that exist already.
INSERT INTO "PromptSearch"(rowid, name, description, tags, content)
SELECT rid, name, description, tags, content FROM "PromptSearchSource";

-- The writers insert a prompt first, then its tags, then its versions (one transaction): the
-- row is written once, by the version trigger, when everything is there. Rewriting an FTS5 row
-- costs a delete and an insert of every token, so the prompt and tag triggers only act on a
-- prompt whose latest version exists already (that is, one that is indexed).
CREATE TRIGGER "PromptSearch_prompt_insert" AFTER INSERT ON "Prompt"
WHEN EXISTS (SELECT 1 FROM "PromptVersion" WHERE "promptId" = NEW."id" AND "number" = NEW."latestVersionNumber")
BEGIN
    INSERT INTO "PromptSearch"(rowid, name, description, tags, content)
    SELECT rid, name, description, tags, content FROM "PromptSearchSource" WHERE rid = NEW.rowid;
END;

-- Prisma lists latestVersionNumber in every update of the service, changed or not: only a real
-- change rewrites the row. The service raises latestVersionNumber BEFORE it inserts the new
-- version (same transaction): then the version does not exist yet and the version trigger
-- below indexes it. Pointing latest at a version that already exists is indexed here.
CREATE TRIGGER "PromptSearch_prompt_update" AFTER UPDATE OF "name", "description", "type", "latestVersionNumber" ON "Prompt"
WHEN OLD."name" IS NOT NEW."name"
  OR OLD."description" IS NOT NEW."description"
  OR OLD."type" IS NOT NEW."type"
  OR (OLD."latestVersionNumber" IS NOT NEW."latestVersionNumber"
      AND EXISTS (SELECT 1 FROM "PromptVersion" WHERE "promptId" = NEW."id" AND "number" = NEW."latestVersionNumber"))
BEGIN
    DELETE FROM "PromptSearch" WHERE rowid = NEW.rowid;
    INSERT INTO "PromptSearch"(rowid, name, description, tags, content)
    SELECT rid, name, description, tags, content FROM "PromptSearchSource" WHERE rid = NEW.rowid;
END;

CREATE TRIGGER "PromptSearch_prompt_delete" AFTER DELETE ON "Prompt" BEGIN
    DELETE FROM "PromptSearch" WHERE rowid = OLD.rowid;
END;

-- Only the latest version is searchable: an import inserts a whole history at once, and only
-- its last version matches latestVersionNumber.
CREATE TRIGGER "PromptSearch_version_insert" AFTER INSERT ON "PromptVersion"
WHEN NEW."number" = (SELECT "latestVersionNumber" FROM "Prompt" WHERE "id" = NEW."promptId")
BEGIN
    DELETE FROM "PromptSearch" WHERE rowid = (SELECT rowid FROM "Prompt" WHERE "id" = NEW."promptId");
    INSERT INTO "PromptSearch"(rowid, name, description, tags, content)
    SELECT rid, name, description, tags, content FROM "PromptSearchSource"
    WHERE rid = (SELECT rowid FROM "Prompt" WHERE "id" = NEW."promptId");
END;

-- A tag row per statement row: replacing n tags of an indexed prompt rewrites its row n times.
-- Cascaded deletes find no Prompt row and do nothing.
CREATE TRIGGER "PromptSearch_tag_insert" AFTER INSERT ON "PromptTag"
WHEN EXISTS (SELECT 1 FROM "Prompt" p JOIN "PromptVersion" v ON v."promptId" = p."id" AND v."number" = p."latestVersionNumber"
             WHERE p."id" = NEW."promptId")
BEGIN
    DELETE FROM "PromptSearch" WHERE rowid = (SELECT rowid FROM "Prompt" WHERE "id" = NEW."promptId");
    INSERT INTO "PromptSearch"(rowid, name, description, tags, content)
    SELECT rid, name, description, tags, content FROM "PromptSearchSource"
    WHERE rid = (SELECT rowid FROM "Prompt" WHERE "id" = NEW."promptId");
END;

CREATE TRIGGER "PromptSearch_tag_delete" AFTER DELETE ON "PromptTag"
WHEN EXISTS (SELECT 1 FROM "Prompt" p JOIN "PromptVersion" v ON v."promptId" = p."id" AND v."number" = p."latestVersionNumber"
             WHERE p."id" = OLD."promptId")
BEGIN
    DELETE FROM "PromptSearch" WHERE rowid = (SELECT rowid FROM "Prompt" WHERE "id" = OLD."promptId");
    INSERT INTO "PromptSearch"(rowid, name, description, tags, content)
    SELECT rid, name, description, tags, content FROM "PromptSearchSource"
    WHERE rid = (SELECT rowid FROM "Prompt" WHERE "id" = OLD."promptId");
END;
