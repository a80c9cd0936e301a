// GraphQL over real HTTP with an API key, for tests of what the HTTP door lets through.
import type { TypedDocumentNode } from "@graphql-typed-document-node/core";
import { print, type GraphQLFormattedError } from "graphql";

export interface HttpResult<TData> {
  status: number;
  headers: Headers;
  data?: TData | null;
  errors?: GraphQLFormattedError[];
}

export function httpClient(port: number) {
  const url = `http://127.0.0.1:${port}/graphql`;
  const post = async (key: string | null, body: unknown, headers: Record<string, string> = {}) => {
    const res = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", ...(key && { authorization: `Bearer ${key}` }), ...headers },
      body: JSON.stringify(body),
    });
    return { status: res.status, headers: res.headers, body: (await res.json()) as unknown };
  };
  return {
    url,
    post,
    /** One typed operation as `key` (null: no Authorization header). */
    async gql<TData, TVars>(key: string | null, document: TypedDocumentNode<TData, TVars>, variables?: TVars, headers: Record<string, string> = {}): Promise<HttpResult<TData>> {
      const res = await post(key, { query: print(document), variables }, headers);
      return { status: res.status, headers: res.headers, ...(res.body as { data?: TData; errors?: GraphQLFormattedError[] }) };
    },
    /** A raw query string as `key`. */
    async raw(key: string | null, query: string, variables?: Record<string, unknown>): Promise<HttpResult<Record<string, unknown>>> {
      const res = await post(key, { query, variables });
      return { status: res.status, headers: res.headers, ...(res.body as { data?: Record<string, unknown>; errors?: GraphQLFormattedError[] }) };
    },
  };
}

export const errorCodes = (result: { errors?: readonly GraphQLFormattedError[] }) => (result.errors ?? []).map((e) => e.extensions?.code);
