// The JavaScript peer of Concord's BenchmarkSearchParams: fhirpath@5.2.0
// evaluates every search parameter expression of each resource of the
// Synthea bundles, each expression compiled once per resource type.
//
//   go run ./bench/fhirpath-params > /tmp/params.json
//   node bench/fhirpath-js/searchparams.js /tmp/params.json ../shared/data/synthea [runs]
'use strict';
const fs = require('fs');
const path = require('path');
const fhirpath = require('fhirpath');
const model = require('fhirpath/fhir-context/r4');

const params = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const dir = process.argv[3];
const runs = Number(process.argv[4] || 3);

const compiled = {};
const resources = [];
for (const f of fs.readdirSync(dir).filter((n) => n.endsWith('.json')).sort()) {
  const bundle = JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8'));
  for (const e of bundle.entry || []) {
    const r = e.resource;
    if (!r) continue;
    if (!(r.resourceType in compiled)) {
      compiled[r.resourceType] = (params[r.resourceType] || []).map((x) => fhirpath.compile(x, model));
    }
    resources.push(r);
  }
}
let evals = 0;
for (const r of resources) evals += compiled[r.resourceType].length;
for (let run = 0; run < runs; run++) {
  let errors = 0;
  const t0 = process.hrtime.bigint();
  for (const r of resources) {
    for (const fn of compiled[r.resourceType]) {
      try { fn(r); } catch (e) { errors++; }
    }
  }
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  console.log(`BenchmarkSearchParams-node\t${(resources.length / secs).toFixed(0)} resources/s\t${(evals / secs).toFixed(0)} evals/s\t(${resources.length} resources, ${evals} evaluations, ${errors} errors, ${secs.toFixed(2)} s)`);
}
