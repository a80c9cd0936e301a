import { Arg, Resolver, Root, Subscription } from "type-graphql";
import type { AppContext } from "../../context.js";
import { normalizeFolder } from "../../domain/prompts/prompt.logic.js";
import type { PromptService } from "../../domain/prompts/prompt.service.js";
import type { EventBus } from "../../subscriptions/pubsub.js";
import type { PromptEventPayload } from "../../subscriptions/topics.js";
import { PromptRef } from "./prompt.inputs.js";
import { PromptEvent } from "./prompt.types.js";

interface PromptEventsArgs {
  prompt?: PromptRef | null;
  folder?: string | null;
}

@Resolver()
export class PromptEventsResolver {
  constructor(
    private readonly bus: EventBus,
    private readonly prompts: PromptService,
  ) {}

  /** Resolves the filter once, up front: an unknown prompt or a bad folder fails the subscription at once. */
  async stream(args: PromptEventsArgs) {
    const promptId = args.prompt ? (await this.prompts.get(args.prompt)).id : undefined;
    const folder = args.folder != null ? normalizeFolder(args.folder) : undefined;
    return this.bus.subscribe(
      "prompt.events",
      (event: PromptEventPayload) => (promptId === undefined || event.promptId === promptId) && (folder === undefined || event.promptName.startsWith(folder)),
    );
  }

  @Subscription(() => PromptEvent, {
    // The schema is built once per process; the app behind a request is found through its context.
    subscribe: ({ args, context }) => (context as AppContext).container.get(PromptEventsResolver).stream(args),
    description: "Changes to prompts as they are committed: all of them, one prompt, or a folder.",
  })
  promptEvents(
    @Root() event: PromptEventPayload,
    @Arg("prompt", () => PromptRef, { nullable: true, description: "Only this prompt." }) _prompt?: PromptRef,
    @Arg("folder", () => String, { nullable: true, description: "Only prompts under this folder." }) _folder?: string,
  ) {
    return { ...event, occurredAt: new Date(event.occurredAt) };
  }
}
