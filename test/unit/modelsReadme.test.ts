import { readFileSync } from 'node:fs';
import path from 'node:path';
import { buildCatalog } from '../../src/kie/catalog/modelCatalog';
import { modelsMarkdown } from '../../src/kie/catalog/modelsTable';

it("README's model table is the catalog's (regenerate it with KIE_API_STYLE=jobs npx sora-batch models --markdown)", () => {
  const readme = readFileSync(path.resolve(__dirname, '../../README.md'), 'utf8');
  const table = /<!-- models:start[^\n]*-->\n([\s\S]*?)\n<!-- models:end -->/.exec(readme)?.[1];
  expect(table).toBeDefined();
  expect(table).toBe(modelsMarkdown(buildCatalog({ apiStyle: 'jobs' }).catalog));
});
