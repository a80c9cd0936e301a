import { badInput } from "../../errors.js";

export const MAX_PAGE_SIZE = 200;
export const DEFAULT_PAGE_SIZE = 20;

/** Opaque cursors: base64url of a small JSON object. Clients must not build them. */
export function encodeCursor(value: Record<string, unknown>): string {
  return Buffer.from(JSON.stringify(value), "utf8").toString("base64url");
}

export function decodeCursor(cursor: string, field = "after"): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
    if (value !== null && typeof value === "object" && !Array.isArray(value)) return value as Record<string, unknown>;
  } catch {
    // fall through to the error below
  }
  throw badInput(field, `${field} is not a cursor returned by this API`);
}

export function pageSize(first: number | null | undefined, field = "first"): number {
  if (first === null || first === undefined) return DEFAULT_PAGE_SIZE;
  if (!Number.isInteger(first) || first < 0 || first > MAX_PAGE_SIZE) {
    throw badInput(field, `${field} must be an integer from 0 to ${MAX_PAGE_SIZE} (got ${first})`);
  }
  return first;
}

export interface Page<T> {
  items: T[];
  hasNextPage: boolean;
  hasPreviousPage: boolean;
}

/** Trims a result fetched with limit + 1 rows to the page and tells whether more follow. */
export function toPage<T>(rows: T[], limit: number, hasPrevious: boolean): Page<T> {
  return { items: rows.slice(0, limit), hasNextPage: rows.length > limit, hasPreviousPage: hasPrevious };
}

/**
 * A page of rows listed newest first by (createdAt, id), with an opaque cursor: the shape of
 * every "list the operations / sessions / tests" query.
 */
export async function newestFirstPage<T extends { createdAt: Date; id: string }>(
  first: number | null | undefined,
  after: string | null | undefined,
  what: string,
  load: (limit: number, before: { createdAt: Date; id: string } | undefined) => Promise<T[]>,
  count: () => Promise<number>,
) {
  const limit = pageSize(first);
  let before: { createdAt: Date; id: string } | undefined;
  if (after) {
    const c = decodeCursor(after);
    if (typeof c.t !== "string" || typeof c.i !== "string") throw badInput("after", `after is not a ${what} cursor`);
    before = { createdAt: new Date(c.t), id: c.i };
  }
  const rows = await load(limit + 1, before);
  return {
    ...toPage(rows, limit, before !== undefined),
    cursor: (row: T) => encodeCursor({ t: row.createdAt.toISOString(), i: row.id }),
    totalCount: count,
  };
}
