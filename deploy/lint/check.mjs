// Checks Kubernetes manifests offline: every document must be a known kind whose object matches the API's
// schema (types, required fields, enums, formats; kubernetes-models, generated from Kubernetes' OpenAPI, and
// the Prometheus operator's CRDs for ServiceMonitor). With --out, writes the objects there as one JSON array
// for the tests to read; exits 1 when any document is invalid or of an unknown kind.
//   node deploy/lint/check.mjs [--out objects.json] FILE...
import { readFileSync, writeFileSync } from "node:fs";
import { parseAllDocuments } from "yaml";

const packages = { "monitoring.coreos.com": "@kubernetes-models/prometheus-operator" };

async function modelOf(apiVersion, kind) {
  const group = apiVersion.includes("/") ? apiVersion.split("/")[0] : "";
  const from = packages[group] ?? "kubernetes-models";
  try {
    const module = await import(`${from}/${apiVersion}/${kind}`);
    return module[kind];
  } catch {
    return undefined;
  }
}

const args = process.argv.slice(2);
const out = args[0] === "--out" ? args.splice(0, 2)[1] : undefined;
const objects = [];
let failures = 0;
for (const file of args) {
  for (const document of parseAllDocuments(readFileSync(file, "utf8"))) {
    if (document.errors.length > 0) {
      console.error(`${file}: ${document.errors.map(e => e.message).join("; ")}`);
      failures++;
      continue;
    }
    const object = document.toJS();
    if (object == null) {
      continue;
    }
    const where = `${file}: ${object.kind ?? "?"} ${object.metadata?.name ?? "?"}`;
    const Model = typeof object.apiVersion === "string" && typeof object.kind === "string" ? await modelOf(object.apiVersion, object.kind) : undefined;
    if (Model === undefined) {
      console.error(`${where}: unknown apiVersion/kind ${object.apiVersion}/${object.kind}`);
      failures++;
      continue;
    }
    try {
      new Model(object).validate();
      objects.push({ file, object });
    } catch (error) {
      console.error(`${where}: ${error.message}`);
      failures++;
    }
  }
}
if (out !== undefined) {
  writeFileSync(out, JSON.stringify(objects));
}
console.log(`${objects.length} objects valid, ${failures} invalid`);
process.exitCode = failures > 0 ? 1 : 0;
