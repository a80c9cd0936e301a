import { newId } from "../shared/ids.js";
import type { Db } from "../../db/client.js";
import { sqlDate, type SyncWriter } from "../../db/sync-writer.js";
import type { EventPublisher, NotificationPayload } from "../../subscriptions/topics.js";
import { decodeCursor, encodeCursor, pageSize, toPage } from "../shared/pagination.js";
import { badInput } from "../../errors.js";

export interface NotificationRecord {
  id: string;
  recipient: string | null;
  kind: string;
  title: string;
  body: string | null;
  data: Record<string, unknown>;
  createdAt: Date;
  readAt: Date | null;
  seq: number;
}

type Row = { id: string; recipient: string | null; kind: string; title: string; body: string | null; data: string; createdAt: Date | string; readAt: Date | string | null; seq: bigint | number };

const toRecord = (row: Row): NotificationRecord => ({
  ...row,
  data: JSON.parse(row.data) as Record<string, unknown>,
  createdAt: new Date(row.createdAt),
  readAt: row.readAt === null ? null : new Date(row.readAt),
  seq: Number(row.seq),
});

/**
 * The feed of things a user should know (a bulk job finished, later refinements and A/B
 * results). A notification with no recipient is for everyone; until access control brings
 * users, the reader is the request's actor.
 */
export class NotificationService {
  constructor(
    private readonly db: Db,
    private readonly events: EventPublisher,
    /** Notifications are written on a prepared statement, in the writer's group commits. */
    private readonly writer: SyncWriter,
  ) {}

  async notify(input: { recipient: string | null; kind: string; title: string; body?: string | null; data?: Record<string, unknown> }) {
    const record = {
      id: newId(),
      recipient: input.recipient,
      kind: input.kind,
      title: input.title,
      body: input.body ?? null,
      data: JSON.stringify(input.data ?? {}),
      createdAt: new Date(),
    };
    // Not through Prisma: its insert was compiled in wasm again for every notification, in the
    // same turn as the end of the bulk job or refinement that sent it.
    await this.writer.grouped((session) =>
      session
        .statement(`INSERT INTO Notification (id, recipient, kind, title, body, data, createdAt) VALUES (?, ?, ?, ?, ?, ?, ?)`)
        .run(record.id, record.recipient, record.kind, record.title, record.body, record.data, sqlDate(record.createdAt)),
    );
    const payload: NotificationPayload = { ...record, data: input.data ?? {}, createdAt: record.createdAt.toISOString() };
    this.events.publish("notification.added", payload);
    return payload;
  }

  /** Newest first; ordered by insertion (rowid), so the cursor is exact. */
  async list(reader: string | null, options: { unreadOnly?: boolean | null; first?: number | null; after?: string | null }) {
    const limit = pageSize(options.first);
    let before = Number.MAX_SAFE_INTEGER;
    if (options.after) {
      const cursor = decodeCursor(options.after);
      if (typeof cursor.s !== "number") throw badInput("after", "after is not a notification cursor");
      before = cursor.s;
    }
    const rows = await this.db.$queryRawUnsafe<Row[]>(
      `SELECT rowid AS seq, * FROM Notification
       WHERE rowid < ? AND (recipient IS NULL OR recipient = ?) ${options.unreadOnly ? "AND readAt IS NULL" : ""}
       ORDER BY rowid DESC LIMIT ?`,
      before,
      reader,
      limit + 1,
    );
    return { ...toPage(rows.map(toRecord), limit, options.after != null), cursor: (n: NotificationRecord) => encodeCursor({ s: n.seq }) };
  }

  count(reader: string | null, unreadOnly: boolean): Promise<number> {
    return this.db.notification.count({ where: { ...(unreadOnly ? { readAt: null } : {}), OR: [{ recipient: null }, { recipient: reader }] } });
  }

  /** Marks the given notifications (or all) of the reader as read; returns how many changed. */
  async markRead(reader: string | null, ids: string[] | null, all: boolean): Promise<number> {
    if (!all && (!ids || ids.length === 0)) throw badInput("ids", "give ids, or all: true");
    const { count } = await this.db.notification.updateMany({
      where: { readAt: null, OR: [{ recipient: null }, { recipient: reader }], ...(all ? {} : { id: { in: ids! } }) },
      data: { readAt: new Date() },
    });
    return count;
  }

  /** Whether a reader should see a notification (for the live stream). */
  static visibleTo(reader: string | null, notification: { recipient: string | null }): boolean {
    return notification.recipient === null || notification.recipient === reader;
  }
}
