/** JSON Schema of scripthut.yaml, generated from the zod schemas. */
import { z } from 'zod';
import { ConfigFileSchema } from './schema.js';

/**
 * The JSON Schema (draft 2020-12) describing scripthut.yaml as written by users (input side:
 * fields with defaults are optional). Cross-field rules (unique names, backend references, batch
 * needs job_definition or default_image) are enforced by the loader only.
 */
export function configJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(ConfigFileSchema, { io: 'input', target: 'draft-2020-12' }) as Record<
    string,
    unknown
  >;
  return {
    $schema: schema.$schema,
    title: 'scripthut.yaml',
    ...schema,
  };
}
