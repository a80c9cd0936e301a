-- CreateTable
CREATE TABLE "UsageEvent" (
    "id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    "promptId" TEXT NOT NULL,
    "versionNumber" INTEGER,
    "label" TEXT,
    "testId" TEXT,
    "variantIndex" INTEGER,
    "userId" TEXT,
    "sessionId" TEXT,
    "model" TEXT,
    "latencyMs" REAL,
    "inputTokens" INTEGER,
    "outputTokens" INTEGER,
    "cost" REAL,
    "success" BOOLEAN NOT NULL,
    "errorCode" TEXT,
    "occurredAt" DATETIME NOT NULL,
    "metadata" TEXT
);

-- CreateTable
CREATE TABLE "UsageRollup" (
    "hour" DATETIME NOT NULL,
    "promptId" TEXT NOT NULL,
    "versionNumber" INTEGER NOT NULL,
    "count" INTEGER NOT NULL,
    "successCount" INTEGER NOT NULL,
    "latencyCount" INTEGER NOT NULL,
    "latencySum" REAL NOT NULL,
    "inputTokens" INTEGER NOT NULL,
    "outputTokens" INTEGER NOT NULL,
    "cost" REAL NOT NULL,

    PRIMARY KEY ("promptId", "hour", "versionNumber")
);

-- CreateTable
CREATE TABLE "UsageSketch" (
    "promptId" TEXT NOT NULL,
    "hour" DATETIME NOT NULL,
    "versionNumber" INTEGER NOT NULL,
    "sketch" BLOB NOT NULL,

    PRIMARY KEY ("promptId", "hour", "versionNumber")
);

-- CreateTable
CREATE TABLE "UsageDaily" (
    "day" DATETIME NOT NULL,
    "promptId" TEXT NOT NULL,
    "count" INTEGER NOT NULL,
    "successCount" INTEGER NOT NULL,
    "latencyCount" INTEGER NOT NULL,
    "latencySum" REAL NOT NULL,
    "inputTokens" INTEGER NOT NULL,
    "outputTokens" INTEGER NOT NULL,
    "cost" REAL NOT NULL,

    PRIMARY KEY ("day", "promptId")
);

-- CreateTable
CREATE TABLE "UserActivityRollup" (
    "hour" DATETIME NOT NULL,
    "userId" TEXT NOT NULL,
    "count" INTEGER NOT NULL,

    PRIMARY KEY ("hour", "userId")
);

-- CreateIndex
CREATE INDEX "UsageEvent_promptId_occurredAt_idx" ON "UsageEvent"("promptId", "occurredAt");

-- CreateIndex
CREATE INDEX "UsageEvent_occurredAt_idx" ON "UsageEvent"("occurredAt");

-- CreateIndex
CREATE INDEX "UsageRollup_hour_idx" ON "UsageRollup"("hour");

-- CreateIndex
CREATE INDEX "UsageDaily_promptId_day_idx" ON "UsageDaily"("promptId", "day");

-- CreateIndex
CREATE INDEX "UserActivityRollup_userId_idx" ON "UserActivityRollup"("userId");

