-- CreateTable
CREATE TABLE "ApiKey" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "name" TEXT NOT NULL,
    "role" TEXT NOT NULL,
    "prefix" TEXT NOT NULL,
    "secretHash" TEXT NOT NULL,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "createdBy" TEXT,
    "expiresAt" DATETIME,
    "revokedAt" DATETIME,
    "revokedBy" TEXT,
    "lastUsedAt" DATETIME
);

-- CreateTable
CREATE TABLE "AuditEntry" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "occurredAt" DATETIME NOT NULL,
    "actor" TEXT,
    "keyId" TEXT,
    "role" TEXT,
    "operation" TEXT NOT NULL,
    "target" TEXT,
    "outcome" TEXT NOT NULL,
    "errorCode" TEXT,
    "requestId" TEXT NOT NULL,
    "details" TEXT
);

-- CreateIndex
CREATE UNIQUE INDEX "ApiKey_secretHash_key" ON "ApiKey"("secretHash");

-- CreateIndex
CREATE INDEX "ApiKey_createdAt_idx" ON "ApiKey"("createdAt");

-- CreateIndex
CREATE INDEX "AuditEntry_occurredAt_idx" ON "AuditEntry"("occurredAt");

-- CreateIndex
CREATE INDEX "AuditEntry_actor_occurredAt_idx" ON "AuditEntry"("actor", "occurredAt");

-- CreateIndex
CREATE INDEX "AuditEntry_operation_occurredAt_idx" ON "AuditEntry"("operation", "occurredAt");

-- CreateIndex
CREATE INDEX "AuditEntry_target_occurredAt_idx" ON "AuditEntry"("target", "occurredAt");

-- AlterTable: a bulk job runs with its starter's rights.
ALTER TABLE "BulkOperation" ADD COLUMN "runBy" TEXT;
ALTER TABLE "BulkOperation" ADD COLUMN "createdByRole" TEXT;
ALTER TABLE "BulkOperation" ADD COLUMN "createdByKeyId" TEXT;
