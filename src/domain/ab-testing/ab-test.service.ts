import { AppError, badInput, notFound } from "../../errors.js";
import { assertMayMoveLabels, isProtectedLabel } from "../../auth/scope.js";
import type { EventBus } from "../../subscriptions/pubsub.js";
import type { AbTestEventType } from "../../subscriptions/topics.js";
import { LATEST, validateLabel, type LabelService } from "../prompts/label.service.js";
import type { PromptRef } from "../prompts/prompt.commands.js";
import type { PromptService } from "../prompts/prompt.service.js";
import { newestFirstPage } from "../shared/pagination.js";
import type { AbTestRecord, AbTestRepository, AbTestStatus, AbVariantRecord, Direction, MetricKind } from "./ab-test.repository.js";

export interface CreateAbTestCommand {
  name: string;
  prompt: PromptRef;
  label?: string | null;
  variants: { name?: string | null; version?: number | null; label?: string | null; weight: number }[];
  metric: MetricKind;
  metricDirection?: Direction | null;
  guardrail?: { metric: MetricKind; direction?: Direction | null } | null;
  minSamplePerVariant?: number | null;
  confidence?: number | null;
  autoPromote?: boolean | null;
}

const MAX_VARIANTS = 10;

/** The lifecycle of A/B tests: DRAFT -> RUNNING <-> PAUSED -> COMPLETED, one active test per prompt and label. */
export class AbTestService {
  constructor(
    private readonly repo: AbTestRepository,
    private readonly prompts: PromptService,
    private readonly labels: LabelService,
    private readonly bus: EventBus,
  ) {}

  async create(command: CreateAbTestCommand, actor: string | null): Promise<AbTestRecord> {
    const name = command.name?.trim() ?? "";
    if (!name || name.length > 200) throw badInput("name", "name must be 1 to 200 characters");
    const label = validateLabel(command.label ?? "production", "label");
    if (label === LATEST) throw badInput("label", `a test cannot govern "${LATEST}"`);
    const prompt = await this.prompts.get(command.prompt);
    if (prompt.archivedAt) throw new AppError("FAILED_PRECONDITION", `prompt ${prompt.name} is archived`, { field: "prompt" });
    if (!Array.isArray(command.variants) || command.variants.length < 2 || command.variants.length > MAX_VARIANTS) {
      throw badInput("variants", `a test needs 2 to ${MAX_VARIANTS} variants (the first is the control)`);
    }
    const names = new Set<string>();
    const variants: AbVariantRecord[] = [];
    for (const [index, v] of command.variants.entries()) {
      const field = `variants.${index}`;
      if (!(typeof v.weight === "number" && Number.isFinite(v.weight) && v.weight > 0)) throw badInput(`${field}.weight`, "weights must be positive numbers");
      if ((v.version == null) === (v.label == null)) throw badInput(field, "give each variant a version or a label (one of them)");
      let versionNumber: number | null = null;
      let versionLabel: string | null = null;
      if (v.version != null) {
        if (!Number.isInteger(v.version) || v.version < 1 || v.version > prompt.latestVersionNumber) {
          throw notFound(`version ${v.version} of prompt ${prompt.name}`, `${field}.version`, v.version);
        }
        versionNumber = v.version;
      } else {
        versionLabel = v.label!.trim() === LATEST ? LATEST : validateLabel(v.label!, `${field}.label`);
        await this.labels.resolve(prompt, versionLabel); // NOT_FOUND when the prompt has no such label
      }
      const variantName = v.name?.trim() || (index === 0 ? "control" : `treatment-${index}`);
      if (variantName.length > 100) throw badInput(`${field}.name`, "variant names must be at most 100 characters");
      if (names.has(variantName)) throw badInput(`${field}.name`, `two variants are named ${variantName}`);
      names.add(variantName);
      variants.push({ index, name: variantName, versionNumber, versionLabel, weight: v.weight });
    }
    if (command.metric !== "CONVERSION" && command.metric !== "SCORE") throw badInput("metric", "metric must be CONVERSION or SCORE");
    if (command.metric === "CONVERSION" && command.metricDirection === "LOWER") throw badInput("metricDirection", "a conversion is always better higher");
    const minSample = command.minSamplePerVariant ?? 100;
    if (!Number.isInteger(minSample) || minSample < 1 || minSample > 10_000_000) throw badInput("minSamplePerVariant", "minSamplePerVariant must be an integer from 1 to 10,000,000");
    const confidence = command.confidence ?? 0.95;
    if (!(confidence >= 0.8 && confidence <= 0.999)) throw badInput("confidence", "confidence must be from 0.8 to 0.999");
    const test = await this.repo.create({
      promptId: prompt.id,
      name,
      label,
      metric: command.metric,
      metricDirection: command.metricDirection ?? "HIGHER",
      guardrailMetric: command.guardrail?.metric ?? null,
      guardrailDirection: command.guardrail ? (command.guardrail.direction ?? "HIGHER") : null,
      minSamplePerVariant: minSample,
      confidence,
      autoPromote: command.autoPromote ?? false,
      createdBy: actor,
      variants,
    });
    this.publish("CREATED", test);
    return test;
  }

  async get(id: string, field = "id"): Promise<AbTestRecord> {
    const test = await this.repo.findById(id);
    if (!test) throw notFound("A/B test", field, id);
    return test;
  }

  async list(prompt: PromptRef | null | undefined, status: AbTestStatus | null, first: number | null | undefined, after: string | null | undefined) {
    const filter = { promptId: prompt ? (await this.prompts.get(prompt)).id : null, status };
    return newestFirstPage(first, after, "A/B test", (limit, before) => this.repo.list(filter, limit, before), () => this.repo.count(filter));
  }

  /** DRAFT -> RUNNING; CONFLICT when another test of the prompt and label is running or paused. */
  start(id: string): Promise<AbTestRecord> {
    return this.activate(id, "DRAFT", "STARTED", { startedAt: new Date() });
  }

  resume(id: string): Promise<AbTestRecord> {
    return this.activate(id, "PAUSED", "RESUMED", { pausedAt: null });
  }

  async pause(id: string): Promise<AbTestRecord> {
    const test = await this.get(id);
    const paused = await this.repo.transition(id, ["RUNNING"], { status: "PAUSED", pausedAt: new Date() });
    if (!paused) throw this.wrongStatus(test, "pause", "RUNNING");
    this.publish("PAUSED", paused);
    return paused;
  }

  /**
   * Ends a running or paused test. `winner` (a variant index) records a decision by hand; with
   * `promote` the governed label moves to the winner's version (recorded in its history).
   */
  async complete(id: string, winner: number | null | undefined, promote: boolean, actor: string | null): Promise<AbTestRecord> {
    const test = await this.get(id);
    if (winner != null && !test.variants.some((v) => v.index === winner)) throw badInput("winner", `the test has no variant ${winner}`);
    const decided = winner ?? test.winnerIndex;
    if (promote && decided === null) throw badInput("promote", "promote needs a winner: give one, or wait for the statistics to decide");
    if (test.status !== "RUNNING" && test.status !== "PAUSED") throw this.wrongStatus(test, "complete", "RUNNING or PAUSED");
    // The label moves first: if it cannot (an archived prompt), the test is left as it was.
    if (promote && decided !== null) await this.promote(test, decided, actor);
    const completed = await this.repo.transition(id, ["RUNNING", "PAUSED"], {
      status: "COMPLETED",
      completedAt: new Date(),
      completedBy: actor,
      ...(winner != null && { winnerIndex: winner, winnerDecidedBy: "MANUAL" }),
    });
    if (!completed) throw this.wrongStatus(test, "complete", "RUNNING or PAUSED");
    this.publish("COMPLETED", completed);
    return completed;
  }

  /** Points the governed label at the winner's version, with the test as the reason. */
  async promote(test: AbTestRecord, winner: number, actor: string | null): Promise<void> {
    const prompt = await this.prompts.get({ id: test.promptId });
    const variant = test.variants[winner]!;
    const version = variant.versionNumber ?? (await this.labels.resolve(prompt, variant.versionLabel!));
    const reason = `A/B test "${test.name}" (${test.id}): ${variant.name} won`;
    await this.labels.setLabel({ id: prompt.id }, test.label, version, reason, actor ?? `ab-test:${test.id}`);
  }

  publish(type: AbTestEventType, test: AbTestRecord): void {
    this.bus.publish("abtest.events", {
      type,
      testId: test.id,
      promptId: test.promptId,
      label: test.label,
      status: test.status,
      winnerIndex: test.winnerIndex,
      occurredAt: new Date().toISOString(),
    });
  }

  private async activate(id: string, from: "DRAFT" | "PAUSED", type: AbTestEventType, data: { startedAt?: Date; pausedAt?: null }): Promise<AbTestRecord> {
    const test = await this.get(id);
    // A running test decides what its label serves (and may promote a version to it): on a
    // protected label, that is an admin's decision; the auto-promotion it leads to then is not.
    assertMayMoveLabels([test.label], "start or resume a test that serves it");
    // What the admin approves is the versions as they are now: a variant named by a label (say
    // `latest` or `staging`) would otherwise follow that label wherever an editor moves it later.
    const pins: { index: number; versionNumber: number }[] = [];
    if (isProtectedLabel(test.label)) {
      const prompt = await this.prompts.get({ id: test.promptId });
      for (const variant of test.variants) {
        if (variant.versionNumber === null) pins.push({ index: variant.index, versionNumber: await this.labels.resolve(prompt, variant.versionLabel!) });
      }
    }
    const started = await this.repo.transaction(async (repo) => {
      const others = (await repo.byLabel(test.promptId, test.label, ["RUNNING", "PAUSED"])).filter((t) => t.id !== id);
      if (others.length > 0) {
        throw new AppError("CONFLICT", `test "${others[0]!.name}" already governs the label ${test.label} of this prompt; complete it first`, { field: "id", testId: others[0]!.id });
      }
      if (pins.length > 0) await repo.pinVariants(id, pins);
      return repo.transition(id, [from], { status: "RUNNING", ...data });
    });
    if (!started) throw this.wrongStatus(test, type === "STARTED" ? "start" : "resume", from);
    this.publish(type, started);
    return started;
  }

  private wrongStatus(test: AbTestRecord, action: string, expected: string) {
    return new AppError("FAILED_PRECONDITION", `cannot ${action} a ${test.status} test (it must be ${expected})`, { field: "id", status: test.status });
  }
}
