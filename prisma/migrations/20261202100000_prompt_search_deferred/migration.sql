-- Search indexing deferred to the end of a write transaction, for the server's own writers.
--
-- Why: FTS5 writes the terms of a row to an in-memory buffer and flushes that buffer to a new
-- segment of the index at COMMIT, but also whenever a later statement of the same transaction
-- opens a statement savepoint, which every statement that fires a trigger and checks a
-- constraint does (FTS5's xSavepoint flushes). So in a group commit of 8 edits, each edit's
-- UPDATE of Prompt flushed the previous edit's terms: 8 one-document segments per commit
-- instead of one, and FTS5's automatic merging of all those small segments on top. Counted
-- with callgrind over 1,200 edits in groups of 8 at 100,000 prompts, in-process: 1.64 billion
-- instructions in SQLite with the flushes, 1.24 billion with this migration (-24%).
--
-- How: a transaction that wants deferral first inserts the row of PromptSearchDefer. While
-- that row exists, the triggers below record which prompts need their FTS row rewritten in
-- PromptSearchPending instead of rewriting it; before COMMIT the writer rewrites them all in
-- one statement (INSERT OR REPLACE from PromptSearchSource) and deletes both tables' rows.
-- Both tables are empty whenever a transaction is not open: the flag is never committed, so
-- other connections (Prisma's, the CLI's, other processes) never see it and their writes
-- index at once, as before. Deleting a prompt still removes its row at once.
-- src/db/sync-writer.ts (deferSearchIndex) does the writer's part.

CREATE TABLE "PromptSearchDefer" ("on" INTEGER NOT NULL PRIMARY KEY);
CREATE TABLE "PromptSearchPending" ("rid" INTEGER NOT NULL PRIMARY KEY);

DROP TRIGGER "PromptSearch_prompt_insert";
DROP TRIGGER "PromptSearch_prompt_update";
DROP TRIGGER "PromptSearch_version_insert";
DROP TRIGGER "PromptSearch_tag_insert";
DROP TRIGGER "PromptSearch_tag_delete";

-- The same triggers as 20261124010000_prompt_search, each one as a pair: the first rewrites
-- the row at once (no deferral), the second records the prompt (deferral on). Their WHEN
-- conditions are otherwise the same.
CREATE TRIGGER "PromptSearch_prompt_insert" AFTER INSERT ON "Prompt"
WHEN EXISTS (SELECT 1 FROM "PromptVersion" WHERE "promptId" = NEW."id" AND "number" = NEW."latestVersionNumber")
 AND NOT EXISTS (SELECT 1 FROM "PromptSearchDefer")
BEGIN
    INSERT INTO "PromptSearch"(rowid, name, description, tags, content)
    SELECT rid, name, description, tags, content FROM "PromptSearchSource" WHERE rid = NEW.rowid;
END;

CREATE TRIGGER "PromptSearch_prompt_insert_deferred" AFTER INSERT ON "Prompt"
WHEN EXISTS (SELECT 1 FROM "PromptVersion" WHERE "promptId" = NEW."id" AND "number" = NEW."latestVersionNumber")
 AND EXISTS (SELECT 1 FROM "PromptSearchDefer")
BEGIN
    INSERT OR IGNORE INTO "PromptSearchPending"("rid") VALUES (NEW.rowid);
END;

CREATE TRIGGER "PromptSearch_prompt_update" AFTER UPDATE OF "name", "description", "type", "latestVersionNumber" ON "Prompt"
WHEN (OLD."name" IS NOT NEW."name"
  OR OLD."description" IS NOT NEW."description"
  OR OLD."type" IS NOT NEW."type"
  OR (OLD."latestVersionNumber" IS NOT NEW."latestVersionNumber"
      AND EXISTS (SELECT 1 FROM "PromptVersion" WHERE "promptId" = NEW."id" AND "number" = NEW."latestVersionNumber")))
 AND NOT EXISTS (SELECT 1 FROM "PromptSearchDefer")
BEGIN
    DELETE FROM "PromptSearch" WHERE rowid = NEW.rowid;
    INSERT INTO "PromptSearch"(rowid, name, description, tags, content)
    SELECT rid, name, description, tags, content FROM "PromptSearchSource" WHERE rid = NEW.rowid;
END;

CREATE TRIGGER "PromptSearch_prompt_update_deferred" AFTER UPDATE OF "name", "description", "type", "latestVersionNumber" ON "Prompt"
WHEN (OLD."name" IS NOT NEW."name"
  OR OLD."description" IS NOT NEW."description"
  OR OLD."type" IS NOT NEW."type"
  OR (OLD."latestVersionNumber" IS NOT NEW."latestVersionNumber"
      AND EXISTS (SELECT 1 FROM "PromptVersion" WHERE "promptId" = NEW."id" AND "number" = NEW."latestVersionNumber")))
 AND EXISTS (SELECT 1 FROM "PromptSearchDefer")
BEGIN
    INSERT OR IGNORE INTO "PromptSearchPending"("rid") VALUES (NEW.rowid);
END;

CREATE TRIGGER "PromptSearch_version_insert" AFTER INSERT ON "PromptVersion"
WHEN NEW."number" = (SELECT "latestVersionNumber" FROM "Prompt" WHERE "id" = NEW."promptId")
 AND NOT EXISTS (SELECT 1 FROM "PromptSearchDefer")
BEGIN
    DELETE FROM "PromptSearch" WHERE rowid = (SELECT rowid FROM "Prompt" WHERE "id" = NEW."promptId");
    INSERT INTO "PromptSearch"(rowid, name, description, tags, content)
    SELECT rid, name, description, tags, content FROM "PromptSearchSource"
    WHERE rid = (SELECT rowid FROM "Prompt" WHERE "id" = NEW."promptId");
END;

CREATE TRIGGER "PromptSearch_version_insert_deferred" AFTER INSERT ON "PromptVersion"
WHEN NEW."number" = (SELECT "latestVersionNumber" FROM "Prompt" WHERE "id" = NEW."promptId")
 AND EXISTS (SELECT 1 FROM "PromptSearchDefer")
BEGIN
    INSERT OR IGNORE INTO "PromptSearchPending"("rid") SELECT rowid FROM "Prompt" WHERE "id" = NEW."promptId";
END;

CREATE TRIGGER "PromptSearch_tag_insert" AFTER INSERT ON "PromptTag"
WHEN EXISTS (SELECT 1 FROM "Prompt" p JOIN "PromptVersion" v ON v."promptId" = p."id" AND v."number" = p."latestVersionNumber"
             WHERE p."id" = NEW."promptId")
 AND NOT EXISTS (SELECT 1 FROM "PromptSearchDefer")
BEGIN
    DELETE FROM "PromptSearch" WHERE rowid = (SELECT rowid FROM "Prompt" WHERE "id" = NEW."promptId");
    INSERT INTO "PromptSearch"(rowid, name, description, tags, content)
    SELECT rid, name, description, tags, content FROM "PromptSearchSource"
    WHERE rid = (SELECT rowid FROM "Prompt" WHERE "id" = NEW."promptId");
END;

CREATE TRIGGER "PromptSearch_tag_insert_deferred" AFTER INSERT ON "PromptTag"
WHEN EXISTS (SELECT 1 FROM "Prompt" p JOIN "PromptVersion" v ON v."promptId" = p."id" AND v."number" = p."latestVersionNumber"
             WHERE p."id" = NEW."promptId")
 AND EXISTS (SELECT 1 FROM "PromptSearchDefer")
BEGIN
    INSERT OR IGNORE INTO "PromptSearchPending"("rid") SELECT rowid FROM "Prompt" WHERE "id" = NEW."promptId";
END;

CREATE TRIGGER "PromptSearch_tag_delete" AFTER DELETE ON "PromptTag"
WHEN EXISTS (SELECT 1 FROM "Prompt" p JOIN "PromptVersion" v ON v."promptId" = p."id" AND v."number" = p."latestVersionNumber"
             WHERE p."id" = OLD."promptId")
 AND NOT EXISTS (SELECT 1 FROM "PromptSearchDefer")
BEGIN
    DELETE FROM "PromptSearch" WHERE rowid = (SELECT rowid FROM "Prompt" WHERE "id" = OLD."promptId");
    INSERT INTO "PromptSearch"(rowid, name, description, tags, content)
    SELECT rid, name, description, tags, content FROM "PromptSearchSource"
    WHERE rid = (SELECT rowid FROM "Prompt" WHERE "id" = OLD."promptId");
END;

CREATE TRIGGER "PromptSearch_tag_delete_deferred" AFTER DELETE ON "PromptTag"
WHEN EXISTS (SELECT 1 FROM "Prompt" p JOIN "PromptVersion" v ON v."promptId" = p."id" AND v."number" = p."latestVersionNumber"
             WHERE p."id" = OLD."promptId")
 AND EXISTS (SELECT 1 FROM "PromptSearchDefer")
BEGIN
    INSERT OR IGNORE INTO "PromptSearchPending"("rid") SELECT rowid FROM "Prompt" WHERE "id" = OLD."promptId";
END;
