import type { EventBus, Subscription } from "../../subscriptions/pubsub.js";
import type { TemplateSource } from "../prompts/render.service.js";
import type { PromptRecord, PromptVersionRecord } from "../prompts/prompt.repository.js";
import { LruMap } from "../shared/lru.js";
import type { AbTestRecord, AbTestRepository } from "./ab-test.repository.js";

export interface ServingCacheOptions {
  maxEntries: number;
  ttlMs: number;
}

/**
 * What serving a prompt needs, kept in memory: prompts by name, label targets, versions (the
 * TemplateSource of rendering) and the test running on each prompt and label. Any prompt event
 * (a new version, a label move, a delete...) clears the prompt part, any test event the test
 * part; events from other instances arrive over the bus's relay. A load that raced a clear is
 * not kept (the generation changed), so a stale answer is never cached.
 */
export class ServingCache implements TemplateSource {
  private readonly prompts: LruMap<string, PromptRecord | null>;
  private readonly labels: LruMap<string, number | null>;
  private readonly versions: LruMap<string, PromptVersionRecord | null>;
  private readonly tests: LruMap<string, AbTestRecord | null>;
  private promptGeneration = 0;
  private testGeneration = 0;
  private readonly subscriptions: Subscription<unknown>[] = [];
  private closed = false;
  hits = 0;
  misses = 0;

  constructor(
    private readonly database: TemplateSource,
    private readonly testRepo: AbTestRepository,
    bus: EventBus,
    options: ServingCacheOptions,
  ) {
    this.prompts = new LruMap(options.maxEntries, options.ttlMs);
    this.labels = new LruMap(options.maxEntries, options.ttlMs);
    this.versions = new LruMap(options.maxEntries, options.ttlMs);
    this.tests = new LruMap(options.maxEntries, options.ttlMs);
    this.watch(bus, "prompt.events", () => {
      this.promptGeneration++;
      this.prompts.clear();
      this.labels.clear();
      this.versions.clear();
    });
    this.watch(bus, "abtest.events", () => {
      this.testGeneration++;
      this.tests.clear();
    });
  }

  /** Unknown names are not cached: random names must not push real prompts out. */
  promptByName(name: string): Promise<PromptRecord | null> {
    return this.cached(this.prompts, name, () => this.promptGeneration, () => this.database.promptByName(name), (prompt) => prompt !== null);
  }

  labelVersion(prompt: PromptRecord, label: string): Promise<number | null> {
    return this.cached(this.labels, `${prompt.id}\u0000${label}`, () => this.promptGeneration, () => this.database.labelVersion(prompt, label));
  }

  version(prompt: PromptRecord, number: number): Promise<PromptVersionRecord | null> {
    return this.cached(this.versions, `${prompt.id}\u0000${number}`, () => this.promptGeneration, () => this.database.version(prompt, number));
  }

  /** The test running on a prompt's label, if any. */
  runningTest(promptId: string, label: string): Promise<AbTestRecord | null> {
    return this.cached(this.tests, `${promptId}\u0000${label}`, () => this.testGeneration, async () => (await this.testRepo.byLabel(promptId, label, ["RUNNING"]))[0] ?? null);
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.subscriptions.map((s) => s.return()));
  }

  private async cached<V>(map: LruMap<string, V>, key: string, generation: () => number, load: () => Promise<V>, keep: (value: V) => boolean = () => true): Promise<V> {
    const hit = map.get(key);
    if (hit) {
      this.hits++;
      return hit.value;
    }
    this.misses++;
    const before = generation();
    const value = await load();
    if (generation() === before && keep(value)) map.set(key, value);
    return value;
  }

  /**
   * Runs `onEvent` for every event of the topic. Should the subscription end (a burst of more
   * events than it may queue), what the events were about is unknown: drop everything, and
   * listen again.
   */
  private watch(bus: EventBus, topic: "prompt.events" | "abtest.events", onEvent: () => void): void {
    const subscription = bus.subscribe(topic) as Subscription<unknown>;
    this.subscriptions.push(subscription);
    void (async () => {
      for await (const _ of subscription) onEvent();
      this.subscriptions.splice(this.subscriptions.indexOf(subscription), 1);
      if (this.closed) return;
      onEvent();
      this.watch(bus, topic, onEvent);
    })();
  }
}
