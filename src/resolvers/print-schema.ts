import { lexicographicSortSchema, printSchema } from "graphql";
import { getSchema } from "./schema.js";

/** The SDL committed as schema.graphql: sorted, so a diff shows only real API changes. */
export async function printAppSchema(): Promise<string> {
  const sdl = printSchema(lexicographicSortSchema(await getSchema()));
  return `# Generated from the code by \`npm run schema\`; do not edit. Committed so API changes show in review.\n\n${sdl}\n`;
}
