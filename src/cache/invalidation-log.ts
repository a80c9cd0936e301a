// The cache's stale-write guard: every invalidation gets a sequence number; a read or load
// remembers the number current when it started and stores its result only if no invalidation
// since then concerns its key or tags.

/** An invalidation, kept while reads and loads that started before it are in progress. */
interface LoggedInvalidation {
  seq: number;
  keys?: ReadonlySet<string>;
  tags?: ReadonlySet<string>;
  all?: true;
}

/** Invalidations remembered for loads in flight; a load older than the oldest forgotten one stores nothing. */
const MAX_LOGGED_INVALIDATIONS = 1_000;

export class InvalidationLog {
  private seq = 0;
  private readonly invalidations: LoggedInvalidation[] = [];
  /** Invalidations up to this number are no longer in `invalidations`. */
  private forgottenUpTo = 0;
  private inProgress = 0;

  /** A read or load starts: returns its starting point for staleSince(); pair with end(). */
  begin(): number {
    this.inProgress++;
    return this.seq;
  }

  end(): void {
    if (--this.inProgress > 0) return;
    // Nothing in progress can be overtaken by what is logged.
    this.invalidations.length = 0;
    this.forgottenUpTo = this.seq;
  }

  /** Records an invalidation of keys and tags, or of everything. */
  record(keys: readonly string[], tags: readonly string[], all = false): void {
    const invalidation: LoggedInvalidation = all
      ? { seq: ++this.seq, all: true }
      : { seq: ++this.seq, ...(keys.length > 0 && { keys: new Set(keys) }), ...(tags.length > 0 && { tags: new Set(tags) }) };
    if (this.inProgress === 0) {
      this.forgottenUpTo = this.seq;
      return;
    }
    this.invalidations.push(invalidation);
    if (this.invalidations.length > MAX_LOGGED_INVALIDATIONS) this.forgottenUpTo = this.invalidations.shift()!.seq;
  }

  /** Whether an invalidation made after `started` concerns the key or one of the tags. */
  staleSince(started: number, key: string, tags: readonly string[]): boolean {
    if (started === this.seq) return false;
    if (started < this.forgottenUpTo) return true;
    for (const invalidation of this.invalidations) {
      if (invalidation.seq <= started) continue;
      if (invalidation.all || invalidation.keys?.has(key) || tags.some((tag) => invalidation.tags?.has(tag))) return true;
    }
    return false;
  }
}
