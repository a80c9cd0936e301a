-- CreateTable
CREATE TABLE "PromptLabel" (
    "promptId" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "versionNumber" INTEGER NOT NULL,
    "updatedAt" DATETIME NOT NULL,
    "updatedBy" TEXT,

    PRIMARY KEY ("promptId", "name"),
    CONSTRAINT "PromptLabel_promptId_fkey" FOREIGN KEY ("promptId") REFERENCES "Prompt" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "PromptLabelEvent" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "promptId" TEXT NOT NULL,
    "label" TEXT NOT NULL,
    "fromVersion" INTEGER,
    "toVersion" INTEGER,
    "actor" TEXT,
    "reason" TEXT,
    "createdAt" DATETIME NOT NULL,
    CONSTRAINT "PromptLabelEvent_promptId_fkey" FOREIGN KEY ("promptId") REFERENCES "Prompt" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "PromptRelationship" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "sourceId" TEXT NOT NULL,
    "targetId" TEXT NOT NULL,
    "type" TEXT NOT NULL,
    "note" TEXT,
    "createdAt" DATETIME NOT NULL,
    "createdBy" TEXT,
    CONSTRAINT "PromptRelationship_sourceId_fkey" FOREIGN KEY ("sourceId") REFERENCES "Prompt" ("id") ON DELETE CASCADE ON UPDATE CASCADE,
    CONSTRAINT "PromptRelationship_targetId_fkey" FOREIGN KEY ("targetId") REFERENCES "Prompt" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "PromptInclude" (
    "promptId" TEXT NOT NULL,
    "includedId" TEXT NOT NULL,
    "selector" TEXT,

    PRIMARY KEY ("promptId", "includedId"),
    CONSTRAINT "PromptInclude_promptId_fkey" FOREIGN KEY ("promptId") REFERENCES "Prompt" ("id") ON DELETE CASCADE ON UPDATE CASCADE,
    CONSTRAINT "PromptInclude_includedId_fkey" FOREIGN KEY ("includedId") REFERENCES "Prompt" ("id") ON DELETE RESTRICT ON UPDATE CASCADE
);

-- CreateIndex
CREATE INDEX "PromptLabelEvent_promptId_createdAt_idx" ON "PromptLabelEvent"("promptId", "createdAt");

-- CreateIndex
CREATE INDEX "PromptRelationship_targetId_idx" ON "PromptRelationship"("targetId");

-- CreateIndex
CREATE UNIQUE INDEX "PromptRelationship_sourceId_targetId_type_key" ON "PromptRelationship"("sourceId", "targetId", "type");

-- CreateIndex
CREATE INDEX "PromptInclude_includedId_idx" ON "PromptInclude"("includedId");

