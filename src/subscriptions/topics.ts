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

/** Topic name -> payload. */
export interface Topics {
  "prompt.events": PromptEventPayload;
}

export type TopicName = keyof Topics;
