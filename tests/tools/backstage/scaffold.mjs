// Checks examples/backstage/template.yaml and runs its steps the way the
// Backstage scaffolder does, offline, for one set of wizard answers:
//
//   node scaffold.mjs NODE_MODULES_DIR TEMPLATE_JSON ANSWERS_JSON SKELETON_DIR OUT_DIR
//
// NODE_MODULES_DIR: where tests/tools/peers.sh installed package.json's pins
// ($HYBRID_SPOKE_BACKSTAGE_TOOLS).
//
// 1. The template against Template.v1beta3.schema.json from
//    @backstage/plugin-scaffolder-common with ajv (the catalog's own setup:
//    @backstage/catalog-model's Entity schemas as references), and with the
//    package's templateEntityV1beta3Validator, which the catalog runs on
//    ingestion.
// 2. The answers against each wizard page's JSON schema (ajv, as the form
//    validates them), with page defaults filled in first.
// 3. The steps, rendered as scaffolder-backend 4.3.0 renders them: every
//    string of a step's input through nunjitsu's renderValue with JSON
//    coercion (NunjucksWorkflowRunner.render), `if` the same way;
//    fetch:template renders each skeleton path and file with nunjitsu's
//    render against { values } (templateActionHandler). Other actions are
//    not run: their rendered inputs are reported, and their outputs are the
//    documented ones, made up (publish:github:pull-request: remoteUrl,
//    pullRequestNumber, targetBranchName; catalog:register: entityRef).
//
// Prints a JSON report { steps: [{id, action, skipped, input}], files: [...] }.
import { createRequire } from 'node:module';
import fs from 'node:fs';
import path from 'node:path';

const [modulesDir, templateFile, answersFile, skeletonDir, outDir] = process.argv.slice(2);
const require = createRequire(path.join(path.resolve(modulesDir), 'package.json'));
const Ajv = require('ajv');
const { createTemplateRenderer } = require('nunjitsu');
const dist = (pkg, file) => path.join(path.dirname(require.resolve(`${pkg}/package.json`)), 'dist', file);
const templateSchema = require(dist('@backstage/plugin-scaffolder-common', 'Template.v1beta3.schema.json.cjs.js')).default;
const refSchemas = ['Entity', 'EntityEnvelope', 'EntityMeta', 'shared/common'].map(
  s => require(dist('@backstage/catalog-model', `schema/${s}.schema.json.cjs.js`)).default,
);
const { templateEntityV1beta3Validator } = require('@backstage/plugin-scaffolder-common');

const template = JSON.parse(fs.readFileSync(templateFile, 'utf8'));
const answers = JSON.parse(fs.readFileSync(answersFile, 'utf8'));
const fail = msg => {
  console.error(`scaffold.mjs: ${msg}`);
  process.exit(1);
};

// 1. The template entity.
const ajv = new Ajv({ allowUnionTypes: true, allErrors: true, validateSchema: true });
ajv.addSchema(refSchemas, undefined, undefined, true);
const validateTemplate = ajv.compile(templateSchema);
if (!validateTemplate(template)) {
  fail(`template is not a valid Template v1beta3: ${ajv.errorsText(validateTemplate.errors)}`);
}
if (!(await templateEntityV1beta3Validator.check(template))) {
  fail('templateEntityV1beta3Validator does not take the template as a Template v1beta3');
}

// 2. The answers, page by page; defaults filled in as the form does.
const formAjv = new Ajv({ allErrors: true, strict: false, useDefaults: true });
const parameters = {};
template.spec.parameters.forEach((page, i) => {
  const validate = formAjv.compile({ type: 'object', ...page });
  const pageAnswers = Object.fromEntries(
    Object.keys(page.properties ?? {}).filter(k => k in answers).map(k => [k, answers[k]]),
  );
  for (const branch of page.dependencies?.cloud?.oneOf ?? []) {
    for (const k of Object.keys(branch.properties)) if (k in answers) pageAnswers[k] = answers[k];
  }
  if (!validate(pageAnswers)) {
    fail(`answers do not satisfy page ${i + 1} "${page.title}": ${formAjv.errorsText(validate.errors)}`);
  }
  Object.assign(parameters, pageAnswers);
});

// 3. The steps. parseRepoUrl is the scaffolder's default filter; this is
// its result for github.com RepoUrlPicker values (host?owner=..&repo=..).
const parseRepoUrl = url => {
  const parsed = new URL(`https://${url}`);
  return { host: parsed.host, owner: parsed.searchParams.get('owner'), repo: parsed.searchParams.get('repo') };
};
const renderer = createTemplateRenderer({ allowRegexExecution: true, filters: { parseRepoUrl } });
const context = {
  parameters,
  steps: {},
  user: { ref: 'user:default/jane.doe' },
  context: { task: { id: 'task-1' } },
};
const render = input =>
  JSON.parse(JSON.stringify(input), (_key, value) => {
    if (typeof value !== 'string') return value;
    return renderer.renderValue(value, context, { coercion: 'json' });
  });
const report = { steps: [], files: [] };
fs.mkdirSync(outDir, { recursive: true });
for (const step of template.spec.steps) {
  if (step.if !== undefined && !render({ if: step.if }).if) {
    report.steps.push({ id: step.id, action: step.action, skipped: true });
    continue;
  }
  const input = render(step.input ?? {});
  report.steps.push({ id: step.id, action: step.action, skipped: false, input });
  if (step.action === 'fetch:template') {
    const target = path.join(outDir, input.targetPath ?? '.');
    const values = { values: input.values };
    const walk = dir =>
      fs.readdirSync(dir, { withFileTypes: true }).flatMap(e =>
        e.isDirectory() ? walk(path.join(dir, e.name)) : [path.join(dir, e.name)],
      );
    for (const file of walk(skeletonDir)) {
      const relative = renderer.render(path.relative(skeletonDir, file), values);
      const out = path.join(target, relative);
      fs.mkdirSync(path.dirname(out), { recursive: true });
      fs.writeFileSync(out, renderer.render(fs.readFileSync(file, 'utf8'), values));
      report.files.push(path.relative(outDir, out));
    }
    context.steps[step.id] = { output: {} };
  } else if (step.action === 'publish:github:pull-request') {
    const { owner, repo } = parseRepoUrl(input.repoUrl);
    context.steps[step.id] = {
      output: {
        remoteUrl: `https://github.com/${owner}/${repo}/pull/42`,
        pullRequestNumber: 42,
        targetBranchName: 'main',
      },
    };
  } else if (step.action === 'catalog:register') {
    context.steps[step.id] = { output: { entityRef: `resource:default/${parameters.name}` } };
  } else {
    fail(`step ${step.id}: action ${step.action} is not emulated here`);
  }
}
report.output = render(template.spec.output ?? {});
console.log(JSON.stringify(report, null, 2));
