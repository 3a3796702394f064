// Parse each AsyncAPI document given on the command line with the official parser (@asyncapi/parser).
// Prints every diagnostic; exits 1 if any document has a diagnostic of severity error (or cannot be read).
//
//   npm ci --prefix tools/asyncapi-validate --no-audit --no-fund
//   node tools/asyncapi-validate/validate.mjs docs/asyncapi/*.json
import { readFile } from "node:fs/promises";
import { Parser, DiagnosticSeverity } from "@asyncapi/parser";

const SEVERITY = {
  [DiagnosticSeverity.Error]: "error",
  [DiagnosticSeverity.Warning]: "warning",
  [DiagnosticSeverity.Information]: "info",
  [DiagnosticSeverity.Hint]: "hint",
};

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error("usage: node validate.mjs <asyncapi document>...");
  process.exit(2);
}

const parser = new Parser();
let failed = 0;
for (const file of files) {
  let source;
  try {
    source = await readFile(file, "utf8");
  } catch (err) {
    console.error(`${file}: cannot read: ${err.message}`);
    failed += 1;
    continue;
  }
  const { document, diagnostics } = await parser.parse(source, { source: file });
  const errors = diagnostics.filter((d) => d.severity === DiagnosticSeverity.Error);
  for (const d of diagnostics) {
    const where = d.path && d.path.length ? ` at ${d.path.join(".")}` : "";
    console.log(`${file}: ${SEVERITY[d.severity] ?? d.severity} ${d.code}${where}: ${d.message}`);
  }
  if (errors.length > 0 || document === undefined) {
    console.error(`${file}: INVALID (${errors.length} error(s))`);
    failed += 1;
  } else {
    const version = document.version();
    const channels = document.channels().length;
    const operations = document.operations().length;
    console.log(
      `${file}: valid AsyncAPI ${version} (${channels} channels, ${operations} operations, ` +
        `${diagnostics.length} other diagnostic(s))`,
    );
  }
}
process.exit(failed > 0 ? 1 : 0);
