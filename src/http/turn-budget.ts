// How much of one turn of the event loop GraphQL requests over HTTP may take.
//
// Every request whose socket is readable when the loop polls runs in that same turn: after a
// burst (a client's backlog arriving at once, a collection or a long statement that held the
// thread) that is the whole backlog times a request's cost, with no timer, WebSocket message,
// worker message or health check handled in between. The slice bounds it: once a turn has spent
// its budget on requests, the next ones wait for a later turn, in the order they arrived.
// While requests are not piling up, a request pays one clock read.

export class TurnBudget {
  /** When this turn's slice began (performance.now()); -1 while none has. */
  private sliceStart = -1;
  /** Requests deferred to a later turn that have not started yet. */
  private waiting = 0;
  /** Requests deferred at least once since start (for /metrics). */
  private deferredTotal = 0;

  /** `budgetMs` 0 turns the slicing off. */
  constructor(private readonly budgetMs: number) {}

  /** How many requests wait for a later turn now. */
  get deferred(): number {
    return this.waiting;
  }

  /** How many requests have waited for a later turn since start. */
  get deferredSinceStart(): number {
    return this.deferredTotal;
  }

  /**
   * undefined: the request may go ahead now. Otherwise it goes ahead when the promise resolves,
   * after the requests deferred before it.
   */
  enter(): Promise<void> | undefined {
    if (this.budgetMs <= 0) return undefined;
    // Once some wait, newcomers queue behind them, even when this turn has room.
    if (this.waiting === 0 && this.hasRoom()) return undefined;
    this.waiting++;
    this.deferredTotal++;
    return new Promise<void>((resolve) => setImmediate(this.retry, resolve));
  }

  private hasRoom(): boolean {
    const now = performance.now();
    if (this.sliceStart < 0) {
      this.sliceStart = now;
      // An immediate queued now runs at this turn's check phase, before the deferred requests
      // queued after it; one queued from the check phase runs in the next turn's. Either way it
      // opens a new slice for the requests behind it.
      setImmediate(this.endSlice);
    }
    return now - this.sliceStart < this.budgetMs;
  }

  private readonly endSlice = () => {
    this.sliceStart = -1;
  };

  /**
   * A deferred request's turn: it starts now if the slice has room (its continuation runs in the
   * microtasks right after this callback, so the next deferred request sees the time it took),
   * otherwise it queues again for the next turn, still ahead of anything that arrives meanwhile.
   */
  private readonly retry = (resolve: () => void) => {
    if (!this.hasRoom()) return void setImmediate(this.retry, resolve);
    this.waiting--;
    resolve();
  };
}
