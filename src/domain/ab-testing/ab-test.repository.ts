import { Prisma } from "../../generated/prisma/client.js";
import { TxRepository, type Tx } from "../../db/tx-repository.js";
import { newId } from "../shared/ids.js";

export type AbTestStatus = "DRAFT" | "RUNNING" | "PAUSED" | "COMPLETED";
export type MetricKind = "CONVERSION" | "SCORE";
export type Direction = "HIGHER" | "LOWER";

export interface AbVariantRecord {
  index: number;
  name: string;
  versionNumber: number | null;
  versionLabel: string | null;
  weight: number;
}

export interface AbTestRecord {
  id: string;
  promptId: string;
  name: string;
  label: string;
  status: AbTestStatus;
  metric: MetricKind;
  metricDirection: Direction;
  guardrailMetric: MetricKind | null;
  guardrailDirection: Direction | null;
  minSamplePerVariant: number;
  confidence: number;
  autoPromote: boolean;
  winnerIndex: number | null;
  winnerDecidedBy: "STATISTICS" | "MANUAL" | null;
  /** The always-valid p-value so far of each treatment against control, by variant index. */
  sequentialState: Record<string, number>;
  createdBy: string | null;
  completedBy: string | null;
  lastSequence: number;
  createdAt: Date;
  startedAt: Date | null;
  pausedAt: Date | null;
  completedAt: Date | null;
  updatedAt: Date;
  variants: AbVariantRecord[];
}

/** Per variant sums over its subjects (a subject's SCORE is the mean of its values). */
export interface VariantTotals {
  index: number;
  subjects: number;
  conversions: number;
  scored: number;
  scoreSum: number;
  scoreSumSquares: number;
  guardrailConversions: number;
  guardrailScored: number;
  guardrailSum: number;
  guardrailSumSquares: number;
}

export interface ExposureRow {
  testId: string;
  subjectKey: string;
  variantIndex: number;
  count: number;
  first: Date;
  last: Date;
}

type TestRow = Prisma.AbTestGetPayload<{ include: { variants: true } }>;

const toTest = (row: TestRow): AbTestRecord => ({
  ...row,
  status: row.status as AbTestStatus,
  metric: row.metric as MetricKind,
  metricDirection: (row.metricDirection ?? "HIGHER") as Direction,
  guardrailMetric: row.guardrailMetric as MetricKind | null,
  guardrailDirection: row.guardrailDirection as Direction | null,
  winnerDecidedBy: row.winnerDecidedBy as AbTestRecord["winnerDecidedBy"],
  sequentialState: JSON.parse(row.sequentialState) as Record<string, number>,
  variants: [...row.variants].sort((a, b) => a.index - b.index).map(({ testId: _t, ...v }) => v),
});

const CHUNK = 200;

export class AbTestRepository extends TxRepository {
  withTx(tx: Tx): AbTestRepository {
    return TxRepository.bindTo((db, bound) => new AbTestRepository(db, bound), tx);
  }

  /** Runs `fn` in one transaction with this repository bound to it. */
  transaction<T>(fn: (repo: AbTestRepository) => Promise<T>): Promise<T> {
    return this.run((tx) => fn(this.withTx(tx)));
  }

  async create(data: Omit<AbTestRecord, "id" | "status" | "winnerIndex" | "winnerDecidedBy" | "sequentialState" | "completedBy" | "lastSequence" | "createdAt" | "startedAt" | "pausedAt" | "completedAt" | "updatedAt">): Promise<AbTestRecord> {
    const now = new Date();
    const { variants, ...test } = data;
    const row = await this.db.abTest.create({
      data: { ...test, id: newId(), status: "DRAFT", createdAt: now, updatedAt: now, variants: { create: variants } },
      include: { variants: true },
    });
    return toTest(row);
  }

  async findById(id: string): Promise<AbTestRecord | null> {
    const row = await this.db.abTest.findUnique({ where: { id }, include: { variants: true } });
    return row ? toTest(row) : null;
  }

  /** Tests of one prompt and label in the given statuses (the running one, or the active ones). */
  async byLabel(promptId: string, label: string, statuses: AbTestStatus[]): Promise<AbTestRecord[]> {
    const rows = await this.db.abTest.findMany({ where: { promptId, label, status: { in: statuses } }, include: { variants: true } });
    return rows.map(toTest);
  }

  async list(filter: { promptId: string | null; status: AbTestStatus | null }, limit: number, before?: { createdAt: Date; id: string }) {
    const rows = await this.db.abTest.findMany({
      where: {
        AND: [
          filter.promptId ? { promptId: filter.promptId } : {},
          filter.status ? { status: filter.status } : {},
          before ? { OR: [{ createdAt: { lt: before.createdAt } }, { createdAt: before.createdAt, id: { lt: before.id } }] } : {},
        ],
      },
      include: { variants: true },
      orderBy: [{ createdAt: "desc" }, { id: "desc" }],
      take: limit,
    });
    return rows.map(toTest);
  }

  count(filter: { promptId: string | null; status: AbTestStatus | null }): Promise<number> {
    return this.db.abTest.count({ where: { ...(filter.promptId ? { promptId: filter.promptId } : {}), ...(filter.status ? { status: filter.status } : {}) } });
  }

  /** Compare-and-set on the status; null when the test was not in `from` any more. */
  /** Fixes label-named variants to the versions their labels point at now. */
  async pinVariants(testId: string, pins: readonly { index: number; versionNumber: number }[]): Promise<void> {
    await this.run(async (tx) => {
      for (const pin of pins) await tx.abVariant.update({ where: { testId_index: { testId, index: pin.index } }, data: { versionNumber: pin.versionNumber } });
    });
  }

  async transition(id: string, from: AbTestStatus[], data: Prisma.AbTestUpdateManyMutationInput, onlyIfUndecided = false): Promise<AbTestRecord | null> {
    return this.run(async (tx) => {
      const { count } = await tx.abTest.updateMany({
        where: { id, status: { in: from }, ...(onlyIfUndecided && { winnerIndex: null }) },
        data: { ...data, updatedAt: new Date(), lastSequence: { increment: 1 } },
      });
      return count === 0 ? null : this.withTx(tx).findById(id);
    });
  }

  /** Keeps the lower of the stored and the new always-valid p-value of each treatment (it never goes up). */
  async saveSequentialState(id: string, state: Record<string, number>): Promise<void> {
    await this.run(async (tx) => {
      const row = await tx.abTest.findUnique({ where: { id }, select: { sequentialState: true } });
      if (!row) return;
      const merged = JSON.parse(row.sequentialState) as Record<string, number>;
      for (const [key, p] of Object.entries(state)) merged[key] = Math.min(merged[key] ?? 1, p);
      await tx.abTest.update({ where: { id }, data: { sequentialState: JSON.stringify(merged) } });
    });
  }

  async findByIds(ids: readonly string[]): Promise<AbTestRecord[]> {
    const rows = await this.db.abTest.findMany({ where: { id: { in: [...ids] } }, include: { variants: true } });
    return rows.map(toTest);
  }

  /** Adds buffered exposures: a new subject keeps the variant it was first served. */
  async addExposures(rows: ExposureRow[]): Promise<void> {
    if (rows.length === 0) return;
    await this.run(async (tx) => {
      for (let i = 0; i < rows.length; i += CHUNK) {
        const values = Prisma.join(rows.slice(i, i + CHUNK).map((r) => Prisma.sql`(${r.testId}, ${r.subjectKey}, ${r.variantIndex}, ${r.count}, ${r.first}, ${r.last})`));
        // Exposures of a test deleted meanwhile (with its prompt) are dropped, not retried forever.
        await tx.$executeRaw`
          INSERT INTO AbSubject (testId, subjectKey, variantIndex, exposures, firstExposedAt, lastExposedAt)
          SELECT v.column1, v.column2, v.column3, v.column4, v.column5, v.column6 FROM (VALUES ${values}) AS v
          WHERE EXISTS (SELECT 1 FROM AbTest t WHERE t.id = v.column1)
          ON CONFLICT (testId, subjectKey) DO UPDATE SET exposures = exposures + excluded.exposures, lastExposedAt = max(lastExposedAt, excluded.lastExposedAt)`;
      }
    });
  }

  /** The exposed subjects among `keys`, with their variant and whether they converted already. */
  async subjects(testId: string, keys: readonly string[]): Promise<Map<string, { variantIndex: number; converted: boolean; guardrailConverted: boolean }>> {
    const rows = await this.db.abSubject.findMany({ where: { testId, subjectKey: { in: [...keys] } }, select: { subjectKey: true, variantIndex: true, converted: true, guardrailConverted: true } });
    return new Map(rows.map((r) => [r.subjectKey, r]));
  }

  /** Records outcomes of exposed subjects; a conversion counts once per subject (later ones change nothing). */
  async addOutcomes(outcomes: { testId: string; subjectKey: string; converted: boolean | null; value: number | null; guardrailConverted: boolean | null; guardrailValue: number | null; at: Date }[]): Promise<void> {
    await this.run(async (tx) => {
      for (const o of outcomes) {
        await tx.$executeRaw`
          UPDATE AbSubject SET
            converted = CASE WHEN ${o.converted === true} THEN 1 ELSE converted END,
            convertedAt = CASE WHEN ${o.converted === true} AND converted = 0 THEN ${o.at} ELSE convertedAt END,
            valueCount = valueCount + ${o.value === null ? 0 : 1},
            valueSum = valueSum + ${o.value ?? 0},
            guardrailConverted = CASE WHEN ${o.guardrailConverted === true} THEN 1 ELSE guardrailConverted END,
            guardrailCount = guardrailCount + ${o.guardrailValue === null ? 0 : 1},
            guardrailSum = guardrailSum + ${o.guardrailValue ?? 0}
          WHERE testId = ${o.testId} AND subjectKey = ${o.subjectKey}`;
      }
    });
  }

  /** Sums per variant for the statistics, in one aggregate statement. */
  async totals(testId: string): Promise<VariantTotals[]> {
    const rows = await this.db.$queryRaw<Record<string, number | bigint | null>[]>`
      SELECT variantIndex AS "index",
             COUNT(*) AS subjects,
             SUM(converted) AS conversions,
             SUM(valueCount > 0) AS scored,
             SUM(CASE WHEN valueCount > 0 THEN valueSum / valueCount END) AS scoreSum,
             SUM(CASE WHEN valueCount > 0 THEN (valueSum / valueCount) * (valueSum / valueCount) END) AS scoreSumSquares,
             SUM(guardrailConverted) AS guardrailConversions,
             SUM(guardrailCount > 0) AS guardrailScored,
             SUM(CASE WHEN guardrailCount > 0 THEN guardrailSum / guardrailCount END) AS guardrailSum,
             SUM(CASE WHEN guardrailCount > 0 THEN (guardrailSum / guardrailCount) * (guardrailSum / guardrailCount) END) AS guardrailSumSquares
      FROM AbSubject WHERE testId = ${testId} GROUP BY variantIndex`;
    const num = (v: number | bigint | null | undefined) => (v === null || v === undefined ? 0 : Number(v));
    return rows.map((r) => ({
      index: num(r.index),
      subjects: num(r.subjects),
      conversions: num(r.conversions),
      scored: num(r.scored),
      scoreSum: num(r.scoreSum),
      scoreSumSquares: num(r.scoreSumSquares),
      guardrailConversions: num(r.guardrailConversions),
      guardrailScored: num(r.guardrailScored),
      guardrailSum: num(r.guardrailSum),
      guardrailSumSquares: num(r.guardrailSumSquares),
    }));
  }
}
