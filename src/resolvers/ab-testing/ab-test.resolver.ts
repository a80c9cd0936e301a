import { Arg, Ctx, FieldResolver, ID, Int, Mutation, Query, Resolver, Root, Subscription } from "type-graphql";
import { GraphQLJSONObject } from "../json-scalars.js";
import type { AppContext } from "../../context.js";
import type { AbResults } from "../../domain/ab-testing/ab-results.logic.js";
import type { AbResultsService } from "../../domain/ab-testing/ab-results.service.js";
import type { AbTestRecord, AbTestStatus } from "../../domain/ab-testing/ab-test.repository.js";
import type { AbTestService } from "../../domain/ab-testing/ab-test.service.js";
import type { ServingService } from "../../domain/ab-testing/serving.service.js";
import { PromptRef } from "../prompts/prompt.inputs.js";
import { Prompt } from "../prompts/prompt.types.js";
import { toConnection } from "../shared/connection.js";
import { AbOutcomeInput, AbOutcomeResult, AbTest, AbTestConnection, AbTestResults, AbTestStatusValues, CreateAbTestInput, ResolvedPrompt } from "./ab-test.types.js";

const forGraphQL = (results: AbResults) => ({ ...results, computedAt: new Date(results.computedAt) });

@Resolver(() => AbTest)
export class AbTestResolver {
  constructor(
    readonly tests: AbTestService,
    readonly results: AbResultsService,
    private readonly serving: ServingService,
  ) {}

  @Query(() => ResolvedPrompt, {
    description:
      "The prompt an application should use now: the label's version, or, while a test governs the label, the variant this subject gets " +
      "(the same subject always gets the same variant; without subjectKey a random one, and a made-up subjectKey to report outcomes with), rendered with the variables.",
  })
  async resolvePrompt(
    @Arg("name", { description: "The prompt's name." }) name: string,
    @Arg("label", () => String, { nullable: true, description: "The label (default production)." }) label?: string | null,
    @Arg("subjectKey", () => String, { nullable: true, description: "Who is served (a user or session id)." }) subjectKey?: string | null,
    @Arg("variables", () => GraphQLJSONObject, { nullable: true, description: "Values for the {{variables}}." }) variables?: Record<string, unknown> | null,
  ) {
    const resolved = await this.serving.resolve({ name, label: label ?? null, subjectKey: subjectKey ?? null, variables: variables ?? null });
    return { ...resolved, type: resolved.version.content.type, includes: resolved.included };
  }

  @Mutation(() => AbTest, { description: "Defines a test (DRAFT). Variants are versions or labels with weights; the first is the control." })
  createAbTest(@Arg("input", () => CreateAbTestInput, { description: "The test." }) input: CreateAbTestInput, @Ctx() ctx: AppContext) {
    return this.tests.create(input, ctx.actor);
  }

  @Mutation(() => AbTest, { description: "DRAFT -> RUNNING; CONFLICT while another test runs (or is paused) on the same prompt and label." })
  startAbTest(@Arg("id", () => ID, { description: "The test." }) id: string) {
    return this.tests.start(id);
  }

  @Mutation(() => AbTest, { description: "RUNNING -> PAUSED: the label serves its own version again." })
  pauseAbTest(@Arg("id", () => ID, { description: "The test." }) id: string) {
    return this.tests.pause(id);
  }

  @Mutation(() => AbTest, { description: "PAUSED -> RUNNING." })
  resumeAbTest(@Arg("id", () => ID, { description: "The test." }) id: string) {
    return this.tests.resume(id);
  }

  @Mutation(() => AbTest, { description: "Ends a running or paused test, optionally naming the winner; with promote the label moves to the winner's version." })
  completeAbTest(
    @Arg("id", () => ID, { description: "The test." }) id: string,
    @Ctx() ctx: AppContext,
    @Arg("winner", () => Int, { nullable: true, description: "The winning variant's index (a decision by hand)." }) winner?: number | null,
    @Arg("promote", () => Boolean, { nullable: true, description: "Move the governed label to the winner's version." }) promote?: boolean | null,
  ) {
    return this.tests.complete(id, winner, promote ?? false, ctx.actor);
  }

  @Mutation(() => [AbOutcomeResult], { description: "Records what happened to subjects (up to 1,000): each is attributed to the subject's variant; errors are per item." })
  async recordAbTestOutcomes(@Arg("outcomes", () => [AbOutcomeInput], { description: "The outcomes." }) outcomes: AbOutcomeInput[]) {
    const results = await this.results.recordOutcomes(outcomes);
    return results.map((r) => ({ index: r.index, ok: r.ok, variantIndex: r.variantIndex, errorCode: r.error?.code ?? null, errorMessage: r.error?.message ?? null }));
  }

  @Query(() => AbTest, { description: "One test; NOT_FOUND when there is none." })
  abTest(@Arg("id", () => ID, { description: "The test." }) id: string) {
    return this.tests.get(id);
  }

  @Query(() => AbTestConnection, { description: "A/B tests, newest first." })
  async abTests(
    @Arg("prompt", () => PromptRef, { nullable: true, description: "Only this prompt's tests." }) prompt?: PromptRef | null,
    @Arg("status", () => AbTestStatusValues, { nullable: true, description: "Only tests in this status." }) status?: AbTestStatus | null,
    @Arg("first", () => Int, { nullable: true, description: "Page size, 0 to 200 (default 20)." }) first?: number,
    @Arg("after", () => String, { nullable: true, description: "endCursor of the previous page." }) after?: string,
  ) {
    const page = await this.tests.list(prompt, status ?? null, first, after);
    return toConnection(page, page.cursor, () => page.totalCount());
  }

  @Query(() => AbTestResults, { complexity: 500, description: "A test's statistics and verdict, computed now." })
  async abTestResults(@Arg("test", () => ID, { description: "The test." }) test: string) {
    return forGraphQL(await this.results.results(test));
  }

  @FieldResolver(() => Prompt, { description: "The prompt under test." })
  prompt(@Root() test: AbTestRecord, @Ctx() ctx: AppContext) {
    return ctx.loaders.prompts.byId.load(test.promptId);
  }

  @Subscription(() => AbTestResults, {
    complexity: 500,
    subscribe: ({ args, context }) => (context as AppContext).container.get(AbTestResolver).results.updates(args.test as string),
    description: "A test's results: the current ones at once, then again whenever outcomes or exposures change them (at most a few times a second).",
  })
  abTestUpdates(@Root() results: AbResults, @Arg("test", () => ID, { description: "The test." }) _test: string) {
    return forGraphQL(results);
  }
}
