// Invalidations Redis did not get (it was unavailable): the cache sends them again when it is back,
// to Redis and to the other instances (see Cache.replayInvalidations).
import type { Logger } from "../logger.js";

/** Keys and tags remembered while Redis is unavailable. */
const MAX_UNSENT_INVALIDATIONS = 10_000;

export class UnsentInvalidations {
  private readonly keys = new Set<string>();
  private readonly tags = new Set<string>();
  private overflowed = false;

  constructor(private readonly logger: Logger) {}

  /** Remembers them; past the bound they are dropped (their entries in Redis stay until they expire), said once. */
  keep(keys: readonly string[], tags: readonly string[]): void {
    if (this.keys.size + this.tags.size + keys.length + tags.length > MAX_UNSENT_INVALIDATIONS) {
      if (!this.overflowed) this.logger.warn("too many invalidations while redis is unavailable: some entries in redis may stay stale until they expire");
      this.overflowed = true;
      return;
    }
    for (const key of keys) this.keys.add(key);
    for (const tag of tags) this.tags.add(tag);
  }

  /** Everything remembered, forgotten here: keep() it again if sending it fails. */
  take(): { keys: string[]; tags: string[] } {
    const taken = { keys: [...this.keys], tags: [...this.tags] };
    this.keys.clear();
    this.tags.clear();
    this.overflowed = false;
    return taken;
  }
}
