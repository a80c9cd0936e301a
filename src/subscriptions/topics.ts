// The one typed catalog of events. Payloads are JSON-safe (they cross Redis in a later
// issue) and only say that a row changed: the database stays the truth.

export type PromptEventType =
  | "CREATED"
  | "UPDATED"
  | "VERSION_CREATED"
  | "LABEL_MOVED"
  | "ARCHIVED"
  | "RESTORED"
  | "DELETED";

export interface PromptEventPayload {
  type: PromptEventType;
  promptId: string;
  promptName: string;
  /** The version the event is about (VERSION_CREATED, CREATED), else the latest at the time. */
  versionNumber: number | null;
  /** ISO-8601 time of the change. */
  occurredAt: string;
  /** LABEL_MOVED: the label, and the version it left (null when newly set); versionNumber is
   * where it went (null when removed). */
  label?: string | null;
  fromVersion?: number | null;
  /** Who made the change, when known. */
  actor?: string | null;
}

export type BulkOperationStatus = "QUEUED" | "RUNNING" | "COMPLETED" | "FAILED" | "CANCELLED";

/** The state of a bulk operation at one point: every event is a full snapshot, so any one is enough. */
export interface BulkProgressPayload {
  operationId: string;
  /** Per operation, 1, 2, 3...: a reconnecting client asks for what came after the last one it saw. */
  sequence: number;
  status: BulkOperationStatus;
  total: number;
  processed: number;
  succeeded: number;
  failed: number;
  skipped: number;
  /** True for the last event of a run (COMPLETED, FAILED or CANCELLED). */
  final: boolean;
  occurredAt: string;
}

export type RefinementStatus = "QUEUED" | "RUNNING" | "COMPLETED" | "FAILED" | "CANCELLED" | "APPLIED" | "REJECTED";

/** STATUS: the session changed status; DELTA: generated text; RETRY: the upstream call is retried; PROPOSAL: the result. */
export type RefinementEventKind = "STATUS" | "DELTA" | "RETRY" | "PROPOSAL";

export interface RefinementProgressPayload {
  sessionId: string;
  /** Per session, 1, 2, 3...: a reconnecting client asks for what came after the last one it saw. */
  sequence: number;
  kind: RefinementEventKind;
  /** The session's status after this event. */
  status: RefinementStatus;
  /** DELTA: the text generated since the previous DELTA event (concatenated, they are the whole reply). */
  delta: string | null;
  /** PROPOSAL: the proposed prompt. */
  proposal: string | null;
  /** STATUS FAILED/CANCELLED/REJECTED and RETRY: why. */
  message: string | null;
  /** True for the event that ends a run (PROPOSAL, FAILED, CANCELLED) and for APPLIED/REJECTED. */
  final: boolean;
  occurredAt: string;
}

export type AbTestEventType = "CREATED" | "STARTED" | "PAUSED" | "RESUMED" | "COMPLETED" | "WINNER";

/** A test changed state (serving caches drop what they know about the prompt's tests). */
export interface AbTestEventPayload {
  type: AbTestEventType;
  testId: string;
  promptId: string;
  label: string;
  status: "DRAFT" | "RUNNING" | "PAUSED" | "COMPLETED";
  winnerIndex: number | null;
  occurredAt: string;
}

export interface NotificationPayload {
  id: string;
  recipient: string | null;
  kind: string;
  title: string;
  body: string | null;
  data: Record<string, unknown>;
  createdAt: string;
}

/** Topic name -> payload. */
export interface Topics {
  "prompt.events": PromptEventPayload;
  "bulk.progress": BulkProgressPayload;
  "notification.added": NotificationPayload;
  "refinement.progress": RefinementProgressPayload;
  /** Asks whichever instance runs the session to stop it (cancelRefinement may reach another one). */
  "refinement.cancel": { sessionId: string };
  "abtest.events": AbTestEventPayload;
  /** A test's results changed (new exposures or outcomes); the payload is the results as JSON. */
  "abtest.results": { testId: string; results: unknown };
  /** A cache dropped keys or tags: the other instances drop them from their first level. */
  "cache.invalidate": { keys?: string[]; tags?: string[]; origin: string; namespace?: string };
  /** Usage events were stored (live analytics recompute for these prompts). */
  "usage.recorded": { promptIds: string[]; count: number };
  /** An API key was revoked: every instance forgets it and closes its WebSocket connections. */
  "auth.keyRevoked": { keyId: string };
}

export type TopicName = keyof Topics;

/** What services publish through: the app's bus, or a buffer flushed after a transaction commits. */
export interface EventPublisher {
  publish<K extends TopicName>(topic: K, payload: Topics[K]): void;
}

/** Holds events until the transaction that caused them has committed. */
export class BufferedPublisher implements EventPublisher {
  private readonly pending: { topic: TopicName; payload: unknown }[] = [];

  publish<K extends TopicName>(topic: K, payload: Topics[K]): void {
    this.pending.push({ topic, payload });
  }

  /** Sends everything to `target` (after commit) and empties the buffer. */
  flush(target: EventPublisher): void {
    for (const { topic, payload } of this.pending.splice(0)) target.publish(topic, payload as Topics[typeof topic]);
  }

  /** Empties the buffer and returns what it held (to publish elsewhere, e.g. from a worker thread). */
  take(): { topic: TopicName; payload: unknown }[] {
    return this.pending.splice(0);
  }

  /** Forgets everything (the transaction rolled back). */
  discard(): void {
    this.pending.length = 0;
  }

  /** A position to roll back to, taken with a database savepoint. */
  mark(): number {
    return this.pending.length;
  }

  /** Forgets what was published since `mark` (the savepoint was rolled back). */
  rollbackTo(mark: number): void {
    this.pending.length = mark;
  }
}
