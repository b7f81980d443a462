/** Writes schema/scripthut.schema.json from the zod schemas: `pnpm --filter @scripthut/config gen:schema`. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { configJsonSchema } from '../src/json-schema.js';

const out = join(import.meta.dirname, '..', 'schema', 'scripthut.schema.json');
writeFileSync(out, `${JSON.stringify(configJsonSchema(), null, 2)}\n`);
console.log(`wrote ${out}`);
