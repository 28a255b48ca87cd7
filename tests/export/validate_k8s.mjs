// Validates Kubernetes manifests with the npm package kubernetes-models: every YAML document of
// every file given is loaded, its apiVersion/kind picks the model class, and the class's
// validate() checks it against the Kubernetes OpenAPI schema. Run by the export tests (ctest).
//
//   node validate_k8s.mjs out/*.yml      exit 0: all valid; 1: a problem (printed); 2: usage
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import yaml from "js-yaml";

const require = createRequire(import.meta.url);

// kubernetes-models lays classes out as <group>/<version>/<Kind> ("v1/Service" for the core group).
function modelFor(apiVersion, kind) {
  if (typeof apiVersion !== "string" || typeof kind !== "string" || !/^[A-Za-z]+$/.test(kind)) {
    throw new Error(`apiVersion and kind must be strings (got ${apiVersion}, ${kind})`);
  }
  const path = `kubernetes-models/${apiVersion}/${kind}`;
  let module;
  try {
    module = require(path);
  } catch (e) {
    throw new Error(`no kubernetes-models class for ${apiVersion} ${kind}`);
  }
  const Model = module[kind] ?? module.default;
  if (typeof Model !== "function") throw new Error(`no class ${kind} in ${path}`);
  return Model;
}

// RFC 1123 label: what Services and the pods' DNS names need; other objects take subdomains.
const kDnsLabel = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

function validateDocument(doc) {
  if (doc === null || typeof doc !== "object" || Array.isArray(doc)) {
    throw new Error("a document is not a map");
  }
  const Model = modelFor(doc.apiVersion, doc.kind);
  new Model(doc).validate();
  const name = doc.metadata?.name;
  if (typeof name !== "string" || name.length > 63 || !kDnsLabel.test(name)) {
    throw new Error(`metadata.name '${name}' is not a DNS-1123 label`);
  }
  return `${doc.kind}/${name}`;
}

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error("usage: node validate_k8s.mjs MANIFEST.yml...");
  process.exit(2);
}
let failures = 0;
let objects = 0;
for (const file of files) {
  let docs;
  try {
    docs = yaml.loadAll(readFileSync(file, "utf8")).filter((d) => d !== null && d !== undefined);
  } catch (e) {
    console.error(`${file}: ${e.message}`);
    failures++;
    continue;
  }
  if (docs.length === 0) {
    console.error(`${file}: no Kubernetes object`);
    failures++;
  }
  docs.forEach((doc, i) => {
    try {
      const what = validateDocument(doc);
      objects++;
      console.log(`${file}: ${what}: valid`);
    } catch (e) {
      console.error(`${file}: document ${i + 1}: ${e.message}`);
      failures++;
    }
  });
}
console.log(`${objects} objects valid, ${failures} problems`);
process.exit(failures === 0 ? 0 : 1);
