import { AppError, type ErrorCode } from "../../errors.js";
import { detached, runAs } from "../../auth/scope.js";
import { systemPrincipal } from "../../auth/principal.js";
import type { Logger } from "../../logger.js";
import type { EventBus } from "../../subscriptions/pubsub.js";
import { closing } from "../../subscriptions/replay.js";
import type { NotificationService } from "../notifications/notification.service.js";
import { computeResults, type AbResults } from "./ab-results.logic.js";
import type { AbTestRecord, AbTestRepository } from "./ab-test.repository.js";
import type { AbTestService } from "./ab-test.service.js";
import type { ExposureBuffer } from "./exposure.buffer.js";

export interface OutcomeInput {
  test: string;
  subjectKey: string;
  /** CONVERSION tests: whether the subject converted (a conversion counts once per subject). */
  converted?: boolean | null;
  /** SCORE tests: one observed value (a subject's score is the mean of its values). */
  value?: number | null;
  /** The guardrail metric, when the test has one. */
  guardrailConverted?: boolean | null;
  guardrailValue?: number | null;
}

export interface OutcomeResult {
  index: number;
  ok: boolean;
  variantIndex: number | null;
  error: { code: ErrorCode; message: string } | null;
}

export const MAX_OUTCOMES = 1_000;
const MAX_TESTS_PER_CALL = 50;
/** Largest SCORE value accepted: sums of squares must stay finite and precise. */
const MAX_VALUE = 1e9;

/**
 * Outcomes, results and decisions. Results are computed from per-variant sums on demand; after
 * new outcomes or exposures a test is re-evaluated (throttled per test): its always-valid
 * p-values are kept, a certain winner is recorded and announced, and with autoPromote the
 * governed label moves to the winner and the test completes.
 */
export class AbResultsService {
  private readonly scheduled = new Map<string, NodeJS.Timeout>();
  private readonly lastRun = new Map<string, number>();
  private readonly evaluating = new Set<Promise<unknown>>();
  private stopped = false;

  constructor(
    private readonly repo: AbTestRepository,
    private readonly tests: AbTestService,
    private readonly exposures: ExposureBuffer,
    private readonly bus: EventBus,
    private readonly notifications: NotificationService,
    private readonly logger: Logger,
    private readonly throttleMs = 500,
  ) {}

  async results(id: string): Promise<AbResults> {
    const test = await this.tests.get(id);
    await this.exposures.flush();
    return computeResults(test, await this.repo.totals(id));
  }

  async recordOutcomes(inputs: OutcomeInput[]): Promise<OutcomeResult[]> {
    if (inputs.length > MAX_OUTCOMES) throw new AppError("BAD_USER_INPUT", `at most ${MAX_OUTCOMES} outcomes per call`, { field: "outcomes" });
    const testIds = [...new Set(inputs.map((o) => o.test))];
    if (testIds.length > MAX_TESTS_PER_CALL) throw new AppError("BAD_USER_INPUT", `outcomes of at most ${MAX_TESTS_PER_CALL} tests per call`, { field: "outcomes" });
    await this.exposures.flush();
    const results: OutcomeResult[] = inputs.map((_, index) => ({ index, ok: false, variantIndex: null, error: null }));
    const fail = (i: number, code: ErrorCode, message: string) => (results[i]!.error = { code, message });
    const tests = new Map((await this.repo.findByIds(testIds)).map((t) => [t.id, t]));
    const accepted: { i: number; testId: string; subjectKey: string }[] = [];
    for (const testId of testIds) {
      const test = tests.get(testId);
      const indexes = inputs.flatMap((o, i) => (o.test === testId ? [i] : []));
      const valid: number[] = [];
      for (const i of indexes) {
        const problem = test ? checkOutcome(test, inputs[i]!) : { code: "NOT_FOUND" as const, message: `A/B test not found: ${testId}` };
        if (problem) fail(i, problem.code, problem.message);
        else valid.push(i);
      }
      if (!test || valid.length === 0) continue;
      const subjects = await this.repo.subjects(test.id, valid.map((i) => inputs[i]!.subjectKey.trim()));
      for (const i of valid) {
        const key = inputs[i]!.subjectKey.trim();
        const subject = subjects.get(key);
        if (!subject) {
          fail(i, "NOT_FOUND", `subject ${key} was not served this test (yet): serve it with resolvePrompt first; an exposure on another instance is stored within a second`);
          continue;
        }
        results[i]!.variantIndex = subject.variantIndex;
        accepted.push({ i, testId, subjectKey: key });
      }
    }
    const at = new Date();
    // One transaction for the whole call: it is stored entirely or not at all.
    await this.repo.addOutcomes(
      accepted.map(({ i, testId, subjectKey }) => {
        const o = inputs[i]!;
        return { testId, subjectKey, converted: o.converted ?? null, value: o.value ?? null, guardrailConverted: o.guardrailConverted ?? null, guardrailValue: o.guardrailValue ?? null, at };
      }),
    );
    for (const { i } of accepted) results[i]!.ok = true;
    for (const testId of new Set(accepted.map((a) => a.testId))) this.schedule(testId);
    return results;
  }

  /** Re-evaluates a test soon, at most once per throttle interval. */
  schedule(testId: string): void {
    if (this.stopped || this.scheduled.has(testId)) return;
    const wait = Math.max(0, (this.lastRun.get(testId) ?? 0) + this.throttleMs - Date.now());
    const timer = detached(() => setTimeout(() => {
      this.scheduled.delete(testId);
      this.lastRun.set(testId, Date.now());
      const run = this.evaluate(testId)
        .catch((err: unknown) => this.logger.error({ err, testId }, "evaluating an A/B test failed"))
        .finally(() => this.evaluating.delete(run));
      this.evaluating.add(run);
    }, wait));
    timer.unref();
    this.scheduled.set(testId, timer);
  }

  /** Computes the results, keeps the sequential p-values, acts on a winner, and publishes the results. */
  async evaluate(testId: string): Promise<AbResults | null> {
    const test = await this.repo.findById(testId);
    if (!test) {
      this.lastRun.delete(testId);
      return null;
    }
    const results = computeResults(test, await this.repo.totals(testId));
    if (test.status === "RUNNING") {
      await this.repo.saveSequentialState(testId, Object.fromEntries(results.sequentialPValues.flatMap((p, i) => (p === null ? [] : [[String(i), p]]))));
      if (results.status === "WINNER" && results.winner !== null && test.winnerIndex === null) await this.decide(test, results.winner);
      // A promotion that failed before (an archived prompt, say) is tried again.
      else if (test.winnerDecidedBy === "STATISTICS" && test.autoPromote && test.winnerIndex !== null) await this.promoteAndComplete(test, test.winnerIndex);
    } else {
      this.lastRun.delete(testId);
    }
    this.bus.publish("abtest.results", { testId, results });
    return results;
  }

  /** Live results of one test: the current ones at once, then each re-evaluation. */
  async updates(id: string): Promise<AsyncIterable<AbResults>> {
    const live = this.bus.subscribe("abtest.results", (event) => event.testId === id);
    let first: AbResults;
    try {
      first = await this.results(id);
    } catch (error) {
      await live.return();
      throw error;
    }
    const stream = (async function* () {
      yield first;
      for await (const event of live) yield event.results as AbResults;
    })();
    return closing(stream, () => live.return());
  }

  /** Stops scheduling, cancels pending evaluations and waits for running ones (shutdown). */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const timer of this.scheduled.values()) clearTimeout(timer);
    this.scheduled.clear();
    await Promise.all(this.evaluating);
  }

  private async decide(test: AbTestRecord, winner: number): Promise<void> {
    // Only the first evaluation to see the winner records it (several instances may evaluate).
    const decided = await this.repo.transition(test.id, ["RUNNING"], { winnerIndex: winner, winnerDecidedBy: "STATISTICS" }, true);
    if (!decided) return;
    this.tests.publish("WINNER", decided);
    const variant = decided.variants[winner]!;
    let outcome = `${variant.name} wins test "${decided.name}".`;
    if (decided.autoPromote) {
      const promoted = await this.promoteAndComplete(decided, winner);
      outcome += promoted === true ? ` The label ${decided.label} now points at its version, and the test is completed.` : ` Moving the label ${decided.label} failed (${promoted}); it is tried again at the next evaluation.`;
    }
    await this.notifications
      .notify({ recipient: decided.createdBy, kind: "AB_TEST_WINNER", title: `A/B test "${decided.name}" has a winner`, body: outcome, data: { testId: decided.id, winnerIndex: winner } })
      .catch((err: unknown) => this.logger.error({ err, testId: test.id }, "A/B winner notification failed"));
  }

  /** Moves the label to the winner, then completes the test; true, or why it failed. */
  private async promoteAndComplete(test: AbTestRecord, winner: number): Promise<true | string> {
    try {
      // Auto-promotion is the one way besides an admin to move a protected label.
      await runAs(systemPrincipal(`ab-test:${test.id}`), () => this.tests.promote(test, winner, null));
    } catch (error) {
      this.logger.error({ err: error, testId: test.id }, "promoting an A/B test winner failed");
      return error instanceof AppError ? error.message : "see the server log";
    }
    const completed = await this.repo.transition(test.id, ["RUNNING"], { status: "COMPLETED", completedAt: new Date() });
    if (completed) this.tests.publish("COMPLETED", completed);
    return true;
  }
}

/** What is wrong with one outcome for this test, if anything. */
function checkOutcome(test: AbTestRecord, o: OutcomeInput): { code: ErrorCode; message: string } | null {
  if (test.status !== "RUNNING" && test.status !== "PAUSED") return { code: "FAILED_PRECONDITION", message: `the test is ${test.status}; outcomes are taken while it runs or is paused` };
  if (typeof o.subjectKey !== "string" || o.subjectKey.trim() === "" || o.subjectKey.length > 200) return { code: "BAD_USER_INPUT", message: "subjectKey must be 1 to 200 characters" };
  if (test.metric === "CONVERSION" && typeof o.converted !== "boolean") return { code: "BAD_USER_INPUT", message: "a CONVERSION test needs converted (true or false)" };
  if (test.metric === "SCORE" && !(typeof o.value === "number" && Math.abs(o.value) <= MAX_VALUE)) return { code: "BAD_USER_INPUT", message: `a SCORE test needs a value from -${MAX_VALUE} to ${MAX_VALUE}` };
  if (o.guardrailValue != null && !(Math.abs(o.guardrailValue) <= MAX_VALUE)) return { code: "BAD_USER_INPUT", message: `guardrailValue must be from -${MAX_VALUE} to ${MAX_VALUE}` };
  if ((o.guardrailConverted != null || o.guardrailValue != null) && !test.guardrailMetric) return { code: "BAD_USER_INPUT", message: "the test has no guardrail metric" };
  if (test.guardrailMetric === "CONVERSION" && o.guardrailValue != null) return { code: "BAD_USER_INPUT", message: "the guardrail is a CONVERSION: give guardrailConverted" };
  if (test.guardrailMetric === "SCORE" && o.guardrailConverted != null) return { code: "BAD_USER_INPUT", message: "the guardrail is a SCORE: give guardrailValue" };
  return null;
}
