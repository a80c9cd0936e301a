-- CreateTable
CREATE TABLE "RefinementSession" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "promptId" TEXT NOT NULL,
    "baseVersionNumber" INTEGER NOT NULL,
    "parentId" TEXT,
    "status" TEXT NOT NULL,
    "provider" TEXT NOT NULL,
    "model" TEXT NOT NULL,
    "temperature" REAL,
    "instructions" TEXT NOT NULL,
    "examples" TEXT NOT NULL,
    "startedBy" TEXT,
    "errorCode" TEXT,
    "error" TEXT,
    "cancelRequested" BOOLEAN NOT NULL DEFAULT false,
    "appliedVersionNumber" INTEGER,
    "resolvedBy" TEXT,
    "rejectionReason" TEXT,
    "lastSequence" INTEGER NOT NULL DEFAULT 0,
    "createdAt" DATETIME NOT NULL,
    "startedAt" DATETIME,
    "finishedAt" DATETIME,
    "resolvedAt" DATETIME,
    "updatedAt" DATETIME NOT NULL,
    CONSTRAINT "RefinementSession_promptId_fkey" FOREIGN KEY ("promptId") REFERENCES "Prompt" ("id") ON DELETE CASCADE ON UPDATE CASCADE,
    CONSTRAINT "RefinementSession_parentId_fkey" FOREIGN KEY ("parentId") REFERENCES "RefinementSession" ("id") ON DELETE SET NULL ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "RefinementDocument" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "sessionId" TEXT NOT NULL,
    "kind" TEXT NOT NULL,
    "contentType" TEXT NOT NULL,
    "content" TEXT NOT NULL,
    "createdAt" DATETIME NOT NULL,
    CONSTRAINT "RefinementDocument_sessionId_fkey" FOREIGN KEY ("sessionId") REFERENCES "RefinementSession" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "RefinementEvent" (
    "sessionId" TEXT NOT NULL,
    "sequence" INTEGER NOT NULL,
    "payload" TEXT NOT NULL,
    "createdAt" DATETIME NOT NULL,

    PRIMARY KEY ("sessionId", "sequence"),
    CONSTRAINT "RefinementEvent_sessionId_fkey" FOREIGN KEY ("sessionId") REFERENCES "RefinementSession" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);

-- CreateIndex
CREATE INDEX "RefinementSession_promptId_createdAt_idx" ON "RefinementSession"("promptId", "createdAt");

-- CreateIndex
CREATE INDEX "RefinementSession_status_updatedAt_idx" ON "RefinementSession"("status", "updatedAt");

-- CreateIndex
CREATE INDEX "RefinementSession_parentId_idx" ON "RefinementSession"("parentId");

-- CreateIndex
CREATE UNIQUE INDEX "RefinementSession_promptId_appliedVersionNumber_key" ON "RefinementSession"("promptId", "appliedVersionNumber");

-- CreateIndex
CREATE UNIQUE INDEX "RefinementDocument_sessionId_kind_key" ON "RefinementDocument"("sessionId", "kind");

