import type { LabelRepository } from "./label.repository.js";
import type { TransferRepository } from "./transfer.repository.js";
import type { PromptRecord, PromptRepository, PromptVersionRecord } from "./prompt.repository.js";
import type { ListPromptsQuery } from "./prompt.commands.js";
import type { PromptService } from "./prompt.service.js";
import { FORMAT, FORMAT_VERSION, type ExportedPrompt } from "./transfer.format.js";

/** Prompts per batch: bounds memory whatever the store's size. */
const PAGE = 100;

export class ExportService {
  constructor(
    private readonly prompts: PromptService,
    private readonly repo: PromptRepository,
    private readonly labels: LabelRepository,
    private readonly transfer: TransferRepository,
  ) {}

  /**
   * The export document as a stream of JSON text chunks, one batch of prompts at a time
   * (ordered by name), so a large store never sits in memory. Filters as in `prompts`.
   */
  async *stream(filter: Omit<ListPromptsQuery, "first" | "after" | "orderBy" | "direction">): AsyncGenerator<string> {
    // Validates the filter before the first byte goes out, so a bad one can still be a 400.
    await this.prompts.list({ ...filter, first: 0 });
    yield `{"format":${JSON.stringify(FORMAT)},"formatVersion":${FORMAT_VERSION},"prompts":[`;
    let after: string | undefined;
    let first = true;
    for (;;) {
      const page = await this.prompts.list({ ...filter, first: PAGE, after, orderBy: "NAME", direction: "ASC" });
      if (page.items.length > 0) {
        const documents = await this.documents(page.items);
        yield (first ? "\n" : ",\n") + documents.map((d) => JSON.stringify(d)).join(",\n");
        first = false;
      }
      if (!page.hasNextPage) break;
      after = page.cursor(page.items.at(-1)!);
    }
    yield "\n]}\n";
  }

  private async documents(prompts: PromptRecord[]): Promise<ExportedPrompt[]> {
    const ids = prompts.map((p) => p.id);
    const [versions, tags, labels, links] = await Promise.all([
      this.transfer.allVersions(prompts),
      this.repo.tagsByPromptIds(ids),
      this.labels.labelsByPromptIds(ids),
      this.transfer.outgoingLinks(ids),
    ]);
    return prompts.map((p) => ({
      name: p.name,
      description: p.description,
      category: p.category,
      type: p.type,
      tags: tags.get(p.id) ?? [],
      createdAt: p.createdAt.toISOString(),
      archivedAt: p.archivedAt?.toISOString() ?? null,
      versions: (versions.get(p.id) ?? []).map(exportVersion),
      labels: (labels.get(p.id) ?? []).map((l) => ({ name: l.name, version: l.versionNumber })),
      relationships: links.get(p.id) ?? [],
    }));
  }
}

function exportVersion(v: PromptVersionRecord) {
  return {
    number: v.number,
    ...(v.content.type === "TEXT" ? { content: v.content.text } : { messages: v.content.messages }),
    config: v.config,
    commitMessage: v.commitMessage,
    author: v.author,
    createdAt: v.createdAt.toISOString(),
  };
}
