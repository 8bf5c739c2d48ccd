// Runs fhirpath@5.2.0 (the HL7 reference JavaScript FHIRPath engine) on an
// official FHIRPath test file and ends with "N passed, M failed, K skipped",
// as `concord fhirpath suite` does, so the two can be compared in one run.
//
//   node bench/fhirpath-js/suite.js ../shared/data/fhirpath/r4/tests-fhir-r4.xml [r4|r5] [--list]
//
// fhirpath.js reads JSON only: a test whose input file has no JSON twin
// (see inputfile-map.csv beside the suite) is skipped. --list prints one
// line per test: name, then pass, FAIL or skip with the reason.
'use strict';
const fs = require('fs');
const path = require('path');
const fhirpath = require('fhirpath');

const file = process.argv[2];
const release = process.argv[3] === 'r5' ? 'r5' : 'r4';
const list = process.argv.includes('--list');
const model = require('fhirpath/fhir-context/' + release);
const dir = path.dirname(file);
const xml = fs.readFileSync(file, 'utf8');

const entity = (s) => s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"')
  .replace(/&apos;/g, "'").replace(/&amp;/g, '&');
const attrs = (s) => {
  const out = {};
  for (const m of s.matchAll(/([a-zA-Z]+)="([^"]*)"/g)) out[m[1]] = entity(m[2]);
  return out;
};

// The JSON twin of each input file, from inputfile-map.csv when present.
const twins = {};
const map = path.join(dir, 'inputfile-map.csv');
if (fs.existsSync(map)) {
  for (const line of fs.readFileSync(map, 'utf8').split('\n').slice(1)) {
    const f = line.split(',');
    if (f[0]) twins[f[0]] = f[0].endsWith('.json') ? f[0] : f[3];
  }
}
const inputs = {};
const load = (name) => {
  const json = twins[name] !== undefined ? twins[name] : (name.endsWith('.json') ? name : '');
  if (!json) return null;
  if (!(json in inputs)) inputs[json] = JSON.parse(fs.readFileSync(path.join(dir, json), 'utf8'));
  return inputs[json];
};

// same compares one result item with an expected <output>.
const same = (got, want) => {
  let g = got;
  if (g && typeof g === 'object' && typeof g.toJSON === 'function') g = g.toJSON();
  if (g && typeof g === 'object' && 'value' in g && 'unit' in g) g = `${g.value} '${g.unit}'`;
  const text = want.text;
  if (typeof g === 'number') return g === Number(text);
  switch (want.type) {
    case 'boolean': return String(g) === text;
    case 'date': case 'dateTime': case 'time': case 'instant': {
      const bare = text.replace(/^@T?/, '');
      if (String(g) === bare) return true;
      // The same instant written in another time zone.
      const x = Date.parse(String(g)), y = Date.parse(bare);
      return want.type === 'dateTime' && !isNaN(x) && x === y && String(g).length >= 19;
    }
    default: return String(g) === text.replace(/^@T?/, want.type ? '@' : '') || String(g) === text;
  }
};

// The environment variables the FHIR specification defines for FHIRPath
// (section 2.1.9.1.7): %sct, %loinc, %vs-[name] and %ext-[name]; %ucum,
// %context and %resource are fhirpath.js's own.
const env = new Proxy({ sct: 'http://snomed.info/sct', loinc: 'http://loinc.org', ucum: 'http://unitsofmeasure.org' }, {
  has: (o, k) => k in o || (typeof k === 'string' && (k.startsWith('vs-') || k.startsWith('ext-'))),
  get: (o, k) => {
    if (typeof k !== 'string' || k in o) return o[k];
    if (k.startsWith('vs-')) return 'http://hl7.org/fhir/ValueSet/' + k.slice(3);
    if (k.startsWith('ext-')) return 'http://hl7.org/fhir/StructureDefinition/' + k.slice(4);
    return undefined;
  },
});

let passed = 0, failed = 0, skipped = 0;
for (const t of xml.matchAll(/<test\b([^>]*)>([\s\S]*?)<\/test>/g)) {
  const a = attrs(t[1]);
  const body = t[2];
  const em = body.match(/<expression\b([^>]*)>([\s\S]*?)<\/expression>/);
  if (!em) continue;
  const ea = attrs(em[1]);
  const expr = entity(em[2]);
  const outputs = [...body.matchAll(/<output\b([^>]*)>([\s\S]*?)<\/output>/g)]
    .map((o) => ({ type: attrs(o[1]).type, text: entity(o[2]) }));
  let verdict;
  const resource = a.inputfile ? load(a.inputfile) : {};
  if (resource === null) {
    skipped++;
    verdict = 'skip (input is XML only)';
  } else {
    let result, error;
    try {
      result = fhirpath.evaluate(JSON.parse(JSON.stringify(resource)), expr, env, model);
      if (a.predicate === 'true') result = [result.length > 0];
    } catch (e) {
      error = e;
    }
    let ok;
    if (ea.invalid) ok = error !== undefined;
    else ok = error === undefined && result.length === outputs.length && outputs.every((o, i) => same(result[i], o));
    if (ok) passed++; else failed++;
    verdict = ok ? 'pass' : 'FAIL ' + (error ? String(error.message || error).split('\n')[0] : JSON.stringify(result));
  }
  if (list) console.log(`${a.name}\t${verdict}`);
}
console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
