import type { Cache } from "../../cache/cache.js";
import type { EventBus, Subscription } from "../../subscriptions/pubsub.js";
import type { Topics } from "../../subscriptions/topics.js";
import type { PromptRecord, PromptVersionRecord } from "../prompts/prompt.repository.js";
import type { TemplateSource } from "../prompts/render.service.js";
import type { ServingSource } from "./serving.source.js";
import type { AbTestRecord, AbTestRepository } from "./ab-test.repository.js";

/**
 * Tags of the serving entries. A prompt event drops that prompt's entries only (by id, and its
 * name's); a test event drops the tests of that prompt; ALL is for when events were missed.
 */
const ALL = "serving:all";
const MAX_TAGS_PER_DROP = 1_000;
const promptTag = (id: string) => `serving:prompt:${id}`;
const nameTag = (name: string) => `serving:name:${name}`;
const testsTag = (promptId: string) => `serving:tests:${promptId}`;

// Cached values are JSON: dates come back as strings and are revived here.
const date = (value: unknown) => (value === null || value === undefined ? null : new Date(value as string));
const revivePrompt = (p: PromptRecord): PromptRecord => ({ ...p, createdAt: date(p.createdAt)!, updatedAt: date(p.updatedAt)!, archivedAt: date(p.archivedAt) });
const reviveVersion = (v: PromptVersionRecord): PromptVersionRecord => ({ ...v, createdAt: date(v.createdAt)! });
const reviveTest = (t: AbTestRecord): AbTestRecord => ({
  ...t,
  createdAt: date(t.createdAt)!,
  startedAt: date(t.startedAt),
  pausedAt: date(t.pausedAt),
  completedAt: date(t.completedAt),
  updatedAt: date(t.updatedAt)!,
});

/** What serving a prompt's label needs (see ServingCache.served). */
export interface ServedEntry {
  /** The label's version number; null when the prompt has no such label. */
  target: number | null;
  version: PromptVersionRecord | null;
  test: AbTestRecord | null;
}

/**
 * What serving a prompt needs, through the app's cache (in-process LRU, and Redis when
 * configured): prompts by name, label targets, versions (the TemplateSource of rendering) and
 * the test running on each prompt and label. A prompt event (a new version, a label move, a
 * delete...) drops that prompt's entries, a test event that prompt's tests; events from other
 * instances arrive over the bus's relay, and the cache's own invalidation reaches Redis and
 * the other instances' first level. A load that an invalidation overtook is not kept.
 */
export class ServingCache implements TemplateSource {
  private readonly subscriptions: Subscription<unknown>[] = [];
  private closed = false;

  constructor(
    private readonly database: ServingSource,
    private readonly testRepo: AbTestRepository,
    private readonly cache: Cache,
    bus: EventBus,
  ) {
    this.watch(bus, "prompt.events", (e) => [promptTag(e.promptId), nameTag(e.promptName)]);
    this.watch(bus, "abtest.events", (e) => [testsTag(e.promptId)]);
  }

  /**
   * A prompt's label as serving needs it, in one entry (one statement when it is not cached): the
   * label's version and the test running on the label. Dropped by an event about the prompt or
   * its tests. Null when the prompt is gone.
   */
  async served(prompt: PromptRecord, label: string): Promise<ServedEntry | null> {
    const found = await this.cache.getOrLoad<ServedEntry | undefined>(
      `serving:served:${prompt.id}:${label}`,
      async () => {
        const row = this.database.served(prompt, label);
        if (!row) return undefined;
        const test = row.hasRunningTest ? ((await this.testRepo.byLabel(prompt.id, label, ["RUNNING"]))[0] ?? null) : null;
        return { target: row.target, version: row.version, test };
      },
      { tags: [ALL, promptTag(prompt.id), testsTag(prompt.id)] },
    );
    return found ? { target: found.target, version: found.version && reviveVersion(found.version), test: found.test && reviveTest(found.test) } : null;
  }

  /** Unknown names are not cached: random names must not push real prompts out. */
  async promptByName(name: string): Promise<PromptRecord | null> {
    const found = await this.cache.getOrLoad<PromptRecord | undefined>(`serving:prompt:${name}`, async () => (await this.database.promptByName(name)) ?? undefined, {
      tags: [ALL, nameTag(name)],
    });
    return found ? revivePrompt(found) : null;
  }

  labelVersion(prompt: PromptRecord, label: string): Promise<number | null> {
    return this.cache.getOrLoad(`serving:label:${prompt.id}:${label}`, () => this.database.labelVersion(prompt, label), { tags: [ALL, promptTag(prompt.id)] });
  }

  async version(prompt: PromptRecord, number: number): Promise<PromptVersionRecord | null> {
    const found = await this.cache.getOrLoad(`serving:version:${prompt.id}:${number}`, () => this.database.version(prompt, number), { tags: [ALL, promptTag(prompt.id)] });
    return found ? reviveVersion(found) : null;
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.subscriptions.map((s) => s.return()));
  }

  /**
   * Drops the entries an event is about. Should the subscription end (a burst of more events
   * than it may queue), what the missed events were about is unknown: drop all, listen again.
   */
  private watch<K extends "prompt.events" | "abtest.events">(bus: EventBus, topic: K, tagsOf: (event: Topics[K]) => string[]): void {
    const subscription = bus.subscribe(topic);
    this.subscriptions.push(subscription as Subscription<unknown>);
    const drop = (tags: string[]) => void this.cache.invalidateTags(tags).catch(() => undefined);
    void (async () => {
      for await (const event of subscription) {
        // A burst (a bulk job's events) is dropped in one invalidation, not one per event.
        const tags = new Set(tagsOf(event));
        while (subscription.pending > 0) {
          const next = await subscription.next();
          if (!next.done) tagsOf(next.value).forEach((tag) => tags.add(tag));
        }
        // A very large burst is cheaper to drop wholesale than tag by tag.
        drop(tags.size > MAX_TAGS_PER_DROP ? [ALL] : [...tags]);
      }
      this.subscriptions.splice(this.subscriptions.indexOf(subscription as Subscription<unknown>), 1);
      if (this.closed) return;
      drop([ALL]);
      this.watch(bus, topic, tagsOf);
    })();
  }
}
