import type { Prisma } from "../generated/prisma/client.js";
import type { Db } from "./client.js";

/** The transaction client Prisma hands to interactive transactions. */
export type Tx = Prisma.TransactionClient;

/**
 * A repository that can also work on an open transaction (bulk jobs bind theirs to a chunk's):
 * `run` opens a transaction of its own, or joins the one it is bound to.
 */
export abstract class TxRepository {
  constructor(
    protected readonly db: Db,
    private readonly bound = false,
  ) {}

  protected static bindTo<T extends TxRepository>(make: (db: Db, bound: boolean) => T, tx: Tx): T {
    return make(tx as unknown as Db, true);
  }

  protected run<T>(fn: (tx: Tx) => Promise<T>): Promise<T> {
    return this.bound ? fn(this.db as unknown as Tx) : this.db.$transaction(fn);
  }
}
