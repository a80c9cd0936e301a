// Pure rules of prompts and versions: validation, variable extraction, hashing.
// No I/O here, so every rule has table tests (tests/prompt-logic.test.ts).
import { createHash } from "node:crypto";
import { badInput } from "../../errors.js";

export type PromptType = "TEXT" | "CHAT";
export const PROMPT_TYPES: readonly PromptType[] = ["TEXT", "CHAT"];

export const CHAT_ROLES = ["system", "developer", "user", "assistant", "tool"] as const;
export type ChatRole = (typeof CHAT_ROLES)[number];

export interface ChatMessage {
  role: ChatRole;
  content: string;
}

/** A version's content: text for TEXT prompts, ordered messages for CHAT prompts. */
export type PromptContent = { type: "TEXT"; text: string } | { type: "CHAT"; messages: ChatMessage[] };

export type JsonObject = { [key: string]: unknown };

export const LIMITS = {
  nameLength: 200,
  descriptionLength: 2_000,
  categoryLength: 100,
  tagLength: 64,
  tagCount: 50,
  commitMessageLength: 2_000,
  authorLength: 200,
  configBytes: 64 * 1024,
  chatMessages: 500,
} as const;

const NAME_SEGMENT = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const TAG = /^[a-z0-9][a-z0-9._:-]*$/;

/**
 * A prompt name: folder-style segments separated by "/" (e.g. `support/greeting`), each
 * starting with a letter or digit and made of letters, digits, ".", "_" and "-".
 */
export function validateName(raw: string, field = "name"): string {
  const name = raw.trim();
  if (name.length === 0) throw badInput(field, `${field} must not be empty`);
  if (name.length > LIMITS.nameLength) {
    throw badInput(field, `${field} must be at most ${LIMITS.nameLength} characters (got ${name.length})`);
  }
  const segments = name.split("/");
  for (const segment of segments) {
    if (!NAME_SEGMENT.test(segment)) {
      throw badInput(
        field,
        `${field} "${name}" is malformed: use folder segments separated by "/", each starting with a letter or digit ` +
          `and containing only letters, digits, ".", "_" and "-"`,
      );
    }
  }
  return name;
}

/** A folder prefix for filtering: a valid name, with or without a trailing "/". */
export function normalizeFolder(raw: string): string {
  const trimmed = raw.trim().replace(/\/+$/, "");
  return `${validateName(trimmed, "folder")}/`;
}

export function validateTags(raw: readonly string[], field = "tags"): string[] {
  const tags = [...new Set(raw.map((tag) => tag.trim().toLowerCase()))];
  if (tags.length > LIMITS.tagCount) throw badInput(field, `at most ${LIMITS.tagCount} tags are allowed (got ${tags.length})`);
  for (const tag of tags) {
    if (tag.length === 0 || tag.length > LIMITS.tagLength || !TAG.test(tag)) {
      throw badInput(
        field,
        `tag "${tag}" is malformed: 1 to ${LIMITS.tagLength} characters, lowercase letters, digits, ".", "_", ":" and "-", starting with a letter or digit`,
        { value: tag },
      );
    }
  }
  return tags.sort();
}

/** Trims optional free text; empty means "none". Throws when longer than `max`. */
export function optionalText(raw: string | null | undefined, field: string, max: number): string | null | undefined {
  if (raw === undefined) return undefined;
  if (raw === null) return null;
  const text = raw.trim();
  if (text.length > max) throw badInput(field, `${field} must be at most ${max} characters (got ${text.length})`);
  return text.length === 0 ? null : text;
}

export function validateConfig(raw: unknown, field = "config"): JsonObject {
  if (raw === null || raw === undefined) return {};
  if (typeof raw !== "object" || Array.isArray(raw)) throw badInput(field, `${field} must be a JSON object`);
  const bytes = Buffer.byteLength(JSON.stringify(raw), "utf8");
  if (bytes > LIMITS.configBytes) {
    throw badInput(field, `${field} must be at most ${LIMITS.configBytes} bytes of JSON (got ${bytes})`);
  }
  return raw as JsonObject;
}

export interface ContentInput {
  text?: string | null;
  messages?: readonly { role: string; content: string }[] | null;
}

/** Builds the content of a version of the given type, checking shape and size. */
export function validateContent(type: PromptType, input: ContentInput, maxBytes: number): PromptContent {
  if (type === "TEXT") {
    if (input.messages != null) throw badInput("messages", "a TEXT prompt takes `content`, not `messages`");
    if (input.text == null || input.text.trim().length === 0) throw badInput("content", "content must not be empty");
    const bytes = Buffer.byteLength(input.text, "utf8");
    if (bytes > maxBytes) throw badInput("content", `content is ${bytes} bytes; the limit is ${maxBytes}`, { limit: maxBytes });
    return { type, text: input.text };
  }
  if (input.text != null) throw badInput("content", "a CHAT prompt takes `messages`, not `content`");
  if (input.messages == null || input.messages.length === 0) {
    throw badInput("messages", "a CHAT prompt needs at least one message");
  }
  if (input.messages.length > LIMITS.chatMessages) {
    throw badInput("messages", `at most ${LIMITS.chatMessages} messages are allowed (got ${input.messages.length})`);
  }
  const messages = input.messages.map((message, index): ChatMessage => {
    const role = message.role.trim().toLowerCase();
    if (!(CHAT_ROLES as readonly string[]).includes(role)) {
      throw badInput(`messages[${index}].role`, `role must be one of ${CHAT_ROLES.join(", ")} (got "${message.role}")`);
    }
    if (message.content.trim().length === 0) {
      throw badInput(`messages[${index}].content`, `message ${index} has empty content`);
    }
    return { role: role as ChatRole, content: message.content };
  });
  const bytes = Buffer.byteLength(JSON.stringify(messages), "utf8");
  if (bytes > maxBytes) throw badInput("messages", `messages are ${bytes} bytes; the limit is ${maxBytes}`, { limit: maxBytes });
  return { type, messages };
}

// `{{ name }}` and `{{name}}`; `{{> include}}` (a later feature) is not a variable.
const VARIABLE = /\{\{\s*([A-Za-z_][A-Za-z0-9_.-]*)\s*\}\}/g;

/** The distinct `{{variable}}` names of the content, in order of first appearance. */
export function extractVariables(content: PromptContent): string[] {
  const texts = content.type === "TEXT" ? [content.text] : content.messages.map((m) => m.content);
  const seen = new Set<string>();
  for (const text of texts) {
    for (const match of text.matchAll(VARIABLE)) seen.add(match[1]!);
  }
  return [...seen];
}

/** JSON with object keys sorted at every depth, so equal values always serialize identically. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === "object") {
    const out: JsonObject = {};
    for (const key of Object.keys(value).sort()) out[key] = sortKeys((value as JsonObject)[key]);
    return out;
  }
  return value;
}

/** SHA-256 over the content and the config: two versions with equal hashes behave identically. */
export function contentHash(content: PromptContent, config: JsonObject): string {
  const body = content.type === "TEXT" ? content.text : content.messages;
  return createHash("sha256").update(canonicalJson({ type: content.type, content: body, config })).digest("hex");
}

export function serializeContent(content: PromptContent): string {
  return content.type === "TEXT" ? content.text : JSON.stringify(content.messages);
}

export function deserializeContent(type: PromptType, stored: string): PromptContent {
  return type === "TEXT" ? { type, text: stored } : { type, messages: JSON.parse(stored) as ChatMessage[] };
}
