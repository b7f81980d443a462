import { configJsonSchema } from '@scripthut/config';
import { command } from '../../command.js';

export default command({
  meta: {
    name: 'schema',
    description: 'Print the JSON Schema of scripthut.yaml (for editors: yaml-language-server)',
  },
  examples: ['scripthut config schema > scripthut.schema.json'],
  run(_args, ctx) {
    const schema = configJsonSchema();
    ctx.out.result(schema, () => JSON.stringify(schema, null, 2));
    return 0;
  },
});
