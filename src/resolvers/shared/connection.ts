import { Field, Int, ObjectType, type ClassType } from "type-graphql";

@ObjectType("PageInfo", { description: "Relay pagination state of a connection." })
export class PageInfo {
  @Field({ description: "True when more items follow the last edge of this page." })
  hasNextPage!: boolean;

  @Field({ description: "True when this page was requested with `after`, so items precede it." })
  hasPreviousPage!: boolean;

  @Field(() => String, { nullable: true, description: "Cursor of the first edge, null on an empty page." })
  startCursor!: string | null;

  @Field(() => String, { nullable: true, description: "Cursor of the last edge; pass it as `after` for the next page." })
  endCursor!: string | null;
}

export interface ConnectionShape<TNode> {
  edges: { cursor: string; node: TNode }[];
  nodes: TNode[];
  pageInfo: PageInfo;
}

/** Builds the edge and connection object types of a node type (Relay cursor connections). */
export function ConnectionType<TNode extends object>(nodeName: string, Node: ClassType<TNode>) {
  @ObjectType(`${nodeName}Edge`, { description: `A ${nodeName} with its cursor.` })
  class Edge {
    @Field({ description: "Opaque position of this item, usable as `after`." })
    cursor!: string;

    @Field(() => Node, { description: `The ${nodeName}.` })
    node!: TNode;
  }

  // Registered only so subclasses inherit its fields; no field refers to it, so the schema omits it.
  @ObjectType(`${nodeName}ConnectionBase`)
  abstract class Connection implements ConnectionShape<TNode> {
    @Field(() => [Edge], { description: "The items of this page with their cursors." })
    edges!: Edge[];

    @Field(() => [Node], { description: `The ${nodeName} items of this page, without cursors.` })
    nodes!: TNode[];

    @Field(() => PageInfo, { description: "Where this page sits in the whole list." })
    pageInfo!: PageInfo;

    @Field(() => Int, { description: `How many ${nodeName} items the whole list holds, across all pages.` })
    totalCount!: number | Promise<number>;
  }
  return Connection;
}

/**
 * A page as a connection. Edges, cursors and the total are worked out when a query selects them,
 * and each time it does: a page of 100 prompts with five versions each would otherwise encode 500
 * version cursors that a query for `nodes` never reads, and run a count statement nobody asked for.
 */
export function toConnection<T>(
  page: { items: T[]; hasNextPage: boolean; hasPreviousPage: boolean },
  cursor: (item: T) => string,
  totalCount: () => number | Promise<number>,
): PageConnection<T> {
  return new PageConnection(page, cursor, totalCount);
}

// The fields are getters on the prototype, which graphql-js's default resolver reads like any
// property (a spread would not copy them: build a connection with toConnection only).
class PageConnection<T> implements ConnectionShape<T> {
  constructor(
    private readonly page: { items: T[]; hasNextPage: boolean; hasPreviousPage: boolean },
    private readonly cursor: (item: T) => string,
    private readonly count: () => number | Promise<number>,
  ) {}

  get nodes(): T[] {
    return this.page.items;
  }

  get edges(): { cursor: string; node: T }[] {
    return this.page.items.map((node) => ({ cursor: this.cursor(node), node }));
  }

  get pageInfo(): PageInfo {
    const { items, hasNextPage, hasPreviousPage } = this.page;
    return {
      hasNextPage,
      hasPreviousPage,
      startCursor: items.length > 0 ? this.cursor(items[0]!) : null,
      endCursor: items.length > 0 ? this.cursor(items.at(-1)!) : null,
    };
  }

  get totalCount(): number | Promise<number> {
    return this.count();
  }
}
