import type { Cache } from "../../cache/cache.js";
import type { EventBus, Subscription } from "../../subscriptions/pubsub.js";
import type { PromptRecord, PromptVersionRecord } from "../prompts/prompt.repository.js";
import type { TemplateSource } from "../prompts/render.service.js";
import type { AbTestRecord, AbTestRepository } from "./ab-test.repository.js";

/** Tags of the serving entries: any prompt event drops the first, any test event the second. */
const PROMPTS = "serving:prompts";
const TESTS = "serving:tests";

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

/**
 * What serving a prompt needs, through the app's cache (in-process LRU, and Redis when
 * configured): prompts by name, label targets, versions (the TemplateSource of rendering) and
 * the test running on each prompt and label. Any prompt event (a new version, a label move, a
 * delete...) drops the prompt entries, any test event the test entries; events from other
 * instances arrive over the bus's relay, and the cache's own invalidation reaches Redis and
 * the other instances' first level. A load that an invalidation overtook is not kept.
 */
export class ServingCache implements TemplateSource {
  private readonly subscriptions: Subscription<unknown>[] = [];
  private closed = false;

  constructor(
    private readonly database: TemplateSource,
    private readonly testRepo: AbTestRepository,
    private readonly cache: Cache,
    bus: EventBus,
  ) {
    this.watch(bus, "prompt.events", PROMPTS);
    this.watch(bus, "abtest.events", TESTS);
  }

  /** Unknown names are not cached: random names must not push real prompts out. */
  async promptByName(name: string): Promise<PromptRecord | null> {
    const found = await this.cache.getOrLoad<PromptRecord | undefined>(`serving:prompt:${name}`, async () => (await this.database.promptByName(name)) ?? undefined, { tags: [PROMPTS] });
    return found ? revivePrompt(found) : null;
  }

  labelVersion(prompt: PromptRecord, label: string): Promise<number | null> {
    return this.cache.getOrLoad(`serving:label:${prompt.id}:${label}`, () => this.database.labelVersion(prompt, label), { tags: [PROMPTS] });
  }

  async version(prompt: PromptRecord, number: number): Promise<PromptVersionRecord | null> {
    const found = await this.cache.getOrLoad(`serving:version:${prompt.id}:${number}`, () => this.database.version(prompt, number), { tags: [PROMPTS] });
    return found ? reviveVersion(found) : null;
  }

  /** The test running on a prompt's label, if any. */
  async runningTest(promptId: string, label: string): Promise<AbTestRecord | null> {
    const found = await this.cache.getOrLoad(
      `serving:test:${promptId}:${label}`,
      async () => (await this.testRepo.byLabel(promptId, label, ["RUNNING"]))[0] ?? null,
      { tags: [TESTS] },
    );
    return found ? reviveTest(found) : null;
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.subscriptions.map((s) => s.return()));
  }

  /**
   * Drops the tag's entries on every event of the topic. Should the subscription end (a burst
   * of more events than it may queue), what they were about is unknown: drop, and listen again.
   */
  private watch(bus: EventBus, topic: "prompt.events" | "abtest.events", tag: string): void {
    const subscription = bus.subscribe(topic) as Subscription<unknown>;
    this.subscriptions.push(subscription);
    const drop = () => void this.cache.invalidateTags([tag]).catch(() => undefined);
    void (async () => {
      for await (const _ of subscription) {
        // A burst (a bulk job's events) needs one invalidation, not one per event.
        while (subscription.pending > 0) await subscription.next();
        drop();
      }
      this.subscriptions.splice(this.subscriptions.indexOf(subscription), 1);
      if (this.closed) return;
      drop();
      this.watch(bus, topic, tag);
    })();
  }
}
