// Lints Cypher statements with Neo4j's own parser and semantic analysis
// (@neo4j-cypher/language-support), as Cypher 5 against Neo4j's function list.
//
// stdin:  {"statements": {"name": "cypher", ...}, "labels": [...], "relationshipTypes": [...],
//          "propertyKeys": [...], "parameters": {"name": example, ...}}
// stdout: {"name": [{"severity": 1|2, "message": "...", "offset": n}, ...], ...}
// Severity 1 is an error, 2 a warning (deprecations, unknown labels or properties).
import { lintCypherQuery, testData } from '@neo4j-cypher/language-support';

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const input = JSON.parse(Buffer.concat(chunks).toString('utf8'));

const schema = {
  ...testData.mockSchema,
  defaultLanguage: 'CYPHER 5',
  labels: input.labels,
  relationshipTypes: input.relationshipTypes,
  propertyKeys: input.propertyKeys,
  parameters: input.parameters,
};

const report = {};
for (const [name, query] of Object.entries(input.statements)) {
  const { diagnostics } = lintCypherQuery(query, schema, { consoleCommandsEnabled: false });
  report[name] = diagnostics.map((d) => ({
    severity: d.severity,
    message: d.message,
    offset: d.offsets?.start ?? null,
  }));
}
process.stdout.write(JSON.stringify(report));
