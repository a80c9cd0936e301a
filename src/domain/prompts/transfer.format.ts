// The export document: what `GET /export` writes and `importPrompts` reads. Ids are left out
// on purpose, so a document moves between stores and exports of equal stores are equal.
import { z } from "zod";

export const FORMAT = "prompt-store.export";
export const FORMAT_VERSION = 1;

const message = z.object({ role: z.string(), content: z.string() });

const version = z.object({
  number: z.number().int().positive(),
  content: z.string().nullish(),
  messages: z.array(message).nullish(),
  config: z.record(z.string(), z.unknown()).nullish(),
  commitMessage: z.string().nullish(),
  author: z.string().nullish(),
  createdAt: z.iso.datetime({ offset: true }).nullish(),
});

const prompt = z.object({
  name: z.string(),
  description: z.string().nullish(),
  category: z.string().nullish(),
  type: z.enum(["TEXT", "CHAT"]),
  tags: z.array(z.string()).default([]),
  createdAt: z.iso.datetime({ offset: true }).nullish(),
  archivedAt: z.iso.datetime({ offset: true }).nullish(),
  versions: z.array(version).min(1),
  labels: z.array(z.object({ name: z.string(), version: z.number().int().positive() })).default([]),
  relationships: z.array(z.object({ type: z.string(), target: z.string(), note: z.string().nullish() })).default([]),
});

export const exportDocument = z.object({
  format: z.literal(FORMAT),
  formatVersion: z.literal(FORMAT_VERSION),
  prompts: z.array(z.unknown()),
});

export const exportedPrompt = prompt;
export type ExportedPrompt = z.infer<typeof prompt>;
export type ExportedVersion = z.infer<typeof version>;
