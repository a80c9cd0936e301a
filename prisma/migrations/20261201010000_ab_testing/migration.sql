-- CreateTable
CREATE TABLE "AbTest" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "promptId" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "label" TEXT NOT NULL,
    "status" TEXT NOT NULL,
    "metric" TEXT NOT NULL,
    "metricDirection" TEXT,
    "guardrailMetric" TEXT,
    "guardrailDirection" TEXT,
    "minSamplePerVariant" INTEGER NOT NULL,
    "confidence" REAL NOT NULL,
    "autoPromote" BOOLEAN NOT NULL,
    "winnerIndex" INTEGER,
    "winnerDecidedBy" TEXT,
    "sequentialState" TEXT NOT NULL DEFAULT '{}',
    "createdBy" TEXT,
    "completedBy" TEXT,
    "lastSequence" INTEGER NOT NULL DEFAULT 0,
    "createdAt" DATETIME NOT NULL,
    "startedAt" DATETIME,
    "pausedAt" DATETIME,
    "completedAt" DATETIME,
    "updatedAt" DATETIME NOT NULL,
    CONSTRAINT "AbTest_promptId_fkey" FOREIGN KEY ("promptId") REFERENCES "Prompt" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "AbVariant" (
    "testId" TEXT NOT NULL,
    "index" INTEGER NOT NULL,
    "name" TEXT NOT NULL,
    "versionNumber" INTEGER,
    "versionLabel" TEXT,
    "weight" REAL NOT NULL,

    PRIMARY KEY ("testId", "index"),
    CONSTRAINT "AbVariant_testId_fkey" FOREIGN KEY ("testId") REFERENCES "AbTest" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "AbSubject" (
    "testId" TEXT NOT NULL,
    "subjectKey" TEXT NOT NULL,
    "variantIndex" INTEGER NOT NULL,
    "exposures" INTEGER NOT NULL,
    "firstExposedAt" DATETIME NOT NULL,
    "lastExposedAt" DATETIME NOT NULL,
    "converted" BOOLEAN NOT NULL DEFAULT false,
    "convertedAt" DATETIME,
    "valueCount" INTEGER NOT NULL DEFAULT 0,
    "valueSum" REAL NOT NULL DEFAULT 0,
    "guardrailConverted" BOOLEAN NOT NULL DEFAULT false,
    "guardrailCount" INTEGER NOT NULL DEFAULT 0,
    "guardrailSum" REAL NOT NULL DEFAULT 0,

    PRIMARY KEY ("testId", "subjectKey"),
    CONSTRAINT "AbSubject_testId_fkey" FOREIGN KEY ("testId") REFERENCES "AbTest" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);

-- CreateIndex
CREATE INDEX "AbTest_promptId_label_status_idx" ON "AbTest"("promptId", "label", "status");

-- CreateIndex
CREATE INDEX "AbTest_status_createdAt_idx" ON "AbTest"("status", "createdAt");

-- CreateIndex
CREATE INDEX "AbSubject_testId_variantIndex_idx" ON "AbSubject"("testId", "variantIndex");

