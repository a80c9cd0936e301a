import { AppError, badInput, notFound } from "../../errors.js";
import type { EventPublisher } from "../../subscriptions/topics.js";
import type { LabelEventRecord, LabelRepository, Tx } from "./label.repository.js";
import type { PromptRecord } from "./prompt.repository.js";
import type { PromptRef, UpdateResult } from "./prompt.commands.js";
import type { PromptService } from "./prompt.service.js";

export const LATEST = "latest";
const LABEL = /^[a-z0-9_-]{1,50}$/;

/** A label name a user may set: `[a-z0-9_-]`, 1 to 50 characters, never `latest`. */
export function validateLabel(raw: string, field = "label"): string {
  const label = raw.trim();
  if (!LABEL.test(label)) {
    throw badInput(field, `label "${raw}" is malformed: 1 to 50 characters of a-z, 0-9, "_" and "-"`, { value: raw });
  }
  if (label === LATEST) {
    throw badInput(field, `"${LATEST}" always points at the newest version and cannot be set or removed by hand`);
  }
  return label;
}

/** Labels are release pointers: moving one is how a version reaches production. */
export class LabelService {
  constructor(
    readonly labelRepository: LabelRepository,
    private readonly prompts: PromptService,
    private readonly events: EventPublisher,
  ) {}

  /** This service inside an open transaction (bulk jobs); `prompts` must be bound to the same one. */
  withTx(tx: Tx, events: EventPublisher, prompts: PromptService): LabelService {
    return new LabelService(this.labelRepository.withTx(tx), prompts, events);
  }

  async setLabel(ref: PromptRef, rawLabel: string, version: number, reason: string | null, actor: string | null) {
    const label = validateLabel(rawLabel);
    const prompt = await this.writable(ref);
    if (!Number.isInteger(version) || version < 1 || version > prompt.latestVersionNumber) {
      throw notFound(`version ${version} of prompt ${prompt.name}`, "version", version);
    }
    const [event] = await this.labelRepository.move(prompt.id, [{ label, toVersion: version, actor, reason: cleanReason(reason) }]);
    if (event) this.publish(prompt, event);
    return (await this.labelRepository.find(prompt.id, label))!;
  }

  /** Removes a label; NOT_FOUND when the prompt does not carry it. */
  async removeLabel(ref: PromptRef, rawLabel: string, reason: string | null, actor: string | null) {
    const label = validateLabel(rawLabel);
    const prompt = await this.writable(ref);
    if (!(await this.labelRepository.find(prompt.id, label))) throw notFound(`label ${label} on prompt ${prompt.name}`, "label", label);
    const [event] = await this.labelRepository.move(prompt.id, [{ label, toVersion: null, actor, reason: cleanReason(reason) }]);
    if (event) this.publish(prompt, event);
    return prompt;
  }

  /**
   * Rolls back by creating a new version equal to an old one (history is never rewritten),
   * moving the given labels to it in the same transaction. When the latest version already
   * equals the old one, no version is created and the labels move to the latest.
   */
  async rollback(
    ref: PromptRef,
    toVersion: number,
    commitMessage: string | null,
    moveLabels: string[],
    actor: string | null,
  ): Promise<UpdateResult> {
    const labels = [...new Set(moveLabels.map((label) => validateLabel(label, "moveLabels")))];
    const target = await this.prompts.version(ref, toVersion);
    const content = target.content;
    return this.prompts.update(
      { id: target.promptId },
      {
        ...(content.type === "TEXT" ? { text: content.text } : { messages: content.messages }),
        config: target.config,
        commitMessage: commitMessage ?? `Rollback to version ${toVersion}`,
      },
      { actor, moveLabels: { labels, reason: `rollback to version ${toVersion}` } },
    );
  }

  historyCount(promptId: string): Promise<number> {
    return this.labelRepository.historyCount(promptId);
  }

  /** The version a label points at: `latest` is the newest version; NOT_FOUND for an unset label. */
  async resolve(prompt: PromptRecord, label: string): Promise<number> {
    if (label === LATEST) return prompt.latestVersionNumber;
    const found = await this.labelRepository.find(prompt.id, label);
    if (!found) throw notFound(`label ${label} on prompt ${prompt.name}`, "label", label);
    return found.versionNumber;
  }

  private async writable(ref: PromptRef): Promise<PromptRecord> {
    const prompt = await this.prompts.get(ref);
    if (prompt.archivedAt) {
      throw new AppError("FAILED_PRECONDITION", `prompt ${prompt.name} is archived; restore it before moving labels`, { field: "prompt" });
    }
    return prompt;
  }

  private publish(prompt: PromptRecord, event: LabelEventRecord) {
    this.events.publish("prompt.events", {
      type: "LABEL_MOVED",
      promptId: prompt.id,
      promptName: prompt.name,
      versionNumber: event.toVersion,
      occurredAt: event.createdAt.toISOString(),
      label: event.label,
      fromVersion: event.fromVersion,
      actor: event.actor,
    });
  }
}

function cleanReason(reason: string | null): string | null {
  const text = reason?.trim() ?? "";
  if (text.length > 2_000) throw badInput("reason", "reason must be at most 2000 characters");
  return text.length > 0 ? text : null;
}
