// fhirkit.js BASE TOKEN: drives Concord's FHIR R4 server with
// fhir-kit-client (a FHIR client in wide use, not Concord's code) through
// create, read, vread, update with If-Match, patch, search with paging,
// history, a transaction and a batch Bundle, delete and errors.
// It prints "ok STEP detail" per step and, at the end, "done N steps";
// the first failure prints "FAIL STEP reason" and exits 1.
//
// Every resource here is synthetic test data; no real patient appears.
import { Client } from 'fhir-kit-client';

const [base, token] = process.argv.slice(2);
if (!base || !token) {
	console.error('usage: node fhirkit.js BASE TOKEN');
	process.exit(2);
}

const client = new Client({ baseUrl: base, bearerToken: token });
// A run tag keeps this run's resources apart from anything else on the server.
const tag = `fk${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;

class StepError extends Error {}

function check(cond, msg) {
	if (!cond) throw new StepError(msg);
}

function headers(result) {
	const { response } = Client.httpFor(result);
	check(response, 'the client kept no HTTP response');
	return response;
}

// failure runs fn, which must be refused by the server, and returns
// fhir-kit-client's error (status and parsed body in error.response).
async function failure(fn) {
	try {
		await fn();
	} catch (err) {
		check(err.response, `no HTTP answer: ${err.message}`);
		return err.response;
	}
	throw new StepError('the server accepted it');
}

function outcome(resp, status) {
	check(resp.status === status, `status ${resp.status}, want ${status}`);
	const oo = resp.data;
	check(oo && oo.resourceType === 'OperationOutcome', `body is not an OperationOutcome: ${JSON.stringify(oo)}`);
	check(Array.isArray(oo.issue) && oo.issue.length > 0, 'OperationOutcome without issues');
	return oo;
}

function ids(bundle) {
	return (bundle.entry || []).map((e) => e.resource && e.resource.id);
}

let steps = 0;
async function step(name, fn) {
	try {
		const detail = await fn();
		steps++;
		console.log(`ok ${name}${detail ? ' ' + detail : ''}`);
	} catch (err) {
		const why = err instanceof StepError ? err.message : `${err.message} ${JSON.stringify(err.response?.data ?? '')}`;
		console.log(`FAIL ${name} ${why}`);
		process.exit(1);
	}
}

function patient(family, given) {
	return {
		resourceType: 'Patient',
		identifier: [{ system: 'urn:concord:test:fhirkit', value: `${tag}-${family}-${given}` }],
		name: [{ family, given: [given] }],
		gender: 'unknown',
		birthDate: '1990-01-01',
	};
}

const family = `Synthetic${tag}`;
let pat; // the Patient created first

await step('metadata', async () => {
	const cs = await client.capabilityStatement();
	check(cs.resourceType === 'CapabilityStatement', `got ${cs.resourceType}`);
	check(cs.fhirVersion === '4.0.1', `fhirVersion ${cs.fhirVersion}`);
	return `fhirVersion ${cs.fhirVersion}`;
});

await step('create', async () => {
	pat = await client.create({ resourceType: 'Patient', body: patient(family, 'Ada') });
	const resp = headers(pat);
	check(resp.status === 201, `status ${resp.status}, want 201`);
	check(pat.resourceType === 'Patient' && pat.id, 'no Patient with an id in the answer');
	check(pat.meta?.versionId === '1', `versionId ${pat.meta?.versionId}`);
	check(resp.headers.get('etag') === 'W/"1"', `ETag ${resp.headers.get('etag')}`);
	const loc = resp.headers.get('location') || '';
	check(loc.endsWith(`/Patient/${pat.id}/_history/1`), `Location ${loc}`);
	return `Patient/${pat.id}`;
});

await step('read', async () => {
	const got = await client.read({ resourceType: 'Patient', id: pat.id });
	check(got.id === pat.id && got.name?.[0]?.family === family, 'another resource came back');
	check(headers(got).headers.get('etag') === 'W/"1"', `ETag ${headers(got).headers.get('etag')}`);
	check(headers(got).headers.get('last-modified'), 'no Last-Modified');
	return `ETag ${headers(got).headers.get('etag')}`;
});

await step('update', async () => {
	const body = { ...pat, gender: 'female' };
	const etag = headers(pat).headers.get('etag');
	const upd = await client.update({ resourceType: 'Patient', id: pat.id, body, options: { headers: { 'If-Match': etag } } });
	check(upd.meta?.versionId === '2', `versionId ${upd.meta?.versionId}`);
	check(upd.gender === 'female', 'the change was not kept');
	check(headers(upd).headers.get('etag') === 'W/"2"', `ETag ${headers(upd).headers.get('etag')}`);
	// The same If-Match again is now stale: 412 with an OperationOutcome.
	const resp = await failure(() =>
		client.update({ resourceType: 'Patient', id: pat.id, body: { ...body, gender: 'male' }, options: { headers: { 'If-Match': etag } } }),
	);
	outcome(resp, 412);
	pat = upd;
	return 'versionId 2, ETag W/"2", stale If-Match 412';
});

await step('vread', async () => {
	const v1 = await client.vread({ resourceType: 'Patient', id: pat.id, version: '1' });
	check(v1.meta?.versionId === '1' && v1.gender === 'unknown', 'version 1 is not as created');
	return 'version 1';
});

await step('patch', async () => {
	const patched = await client.patch({
		resourceType: 'Patient',
		id: pat.id,
		jsonPatch: [{ op: 'add', path: '/active', value: true }],
		options: { headers: { 'If-Match': headers(pat).headers.get('etag') } },
	});
	check(patched.active === true && patched.meta?.versionId === '3', `versionId ${patched.meta?.versionId}`);
	pat = patched;
	return 'versionId 3';
});

await step('search', async () => {
	const b = await client.search({ resourceType: 'Patient', searchParams: { family, _total: 'accurate' } });
	check(b.resourceType === 'Bundle' && b.type === 'searchset', `${b.resourceType} ${b.type}`);
	check(b.total === 1, `total ${b.total}`);
	check(ids(b).length === 1 && ids(b)[0] === pat.id, `entries ${ids(b)}`);
	check(b.entry[0].search?.mode === 'match', 'entry.search.mode is not match');
	check(b.entry[0].fullUrl?.endsWith(`/Patient/${pat.id}`), `fullUrl ${b.entry[0].fullUrl}`);
	return `Patient?family=${family}: 1 match`;
});

await step('search-paging', async () => {
	const pageFamily = `Paged${tag}`;
	const made = [];
	for (const given of ['A', 'B', 'C', 'D', 'E']) {
		made.push((await client.create({ resourceType: 'Patient', body: patient(pageFamily, given) })).id);
	}
	let page = await client.search({ resourceType: 'Patient', searchParams: { family: pageFamily, _count: 2, _total: 'accurate' } });
	check(page.total === 5, `total ${page.total}`);
	const seen = [];
	let pages = 0;
	for (;;) {
		pages++;
		check(pages <= 10, 'more than 10 pages for 5 resources');
		check(page.resourceType === 'Bundle' && page.type === 'searchset', 'a page is not a searchset Bundle');
		check((page.entry || []).length <= 2, `${page.entry.length} entries with _count=2`);
		check(page.link?.some((l) => l.relation === 'self'), 'a page without a self link');
		seen.push(...ids(page));
		const next = await client.nextPage({ bundle: page });
		if (!next) break;
		page = next;
	}
	check(pages === 3, `${pages} pages, want 3`);
	check(seen.length === 5 && new Set(seen).size === 5, `pages held ${seen}`);
	check(made.every((id) => seen.includes(id)), 'a created Patient was not on any page');
	// And back: the last page links to the one before it.
	const prev = await client.prevPage({ bundle: page });
	check(prev && ids(prev).length === 2, 'prevPage did not give the second page');
	return `5 resources over ${pages} pages with _count=2 (nextPage, prevPage)`;
});

await step('history-instance', async () => {
	const h = await client.resourceHistory({ resourceType: 'Patient', id: pat.id });
	check(h.resourceType === 'Bundle' && h.type === 'history', `${h.resourceType} ${h.type}`);
	const versions = (h.entry || []).map((e) => e.resource?.meta?.versionId);
	check(versions.join(',') === '3,2,1', `versions ${versions}, want 3,2,1 (newest first)`);
	for (const e of h.entry) {
		check(e.request?.method && e.request?.url, 'a history entry without request');
		check(e.response?.status, 'a history entry without response.status');
	}
	check(h.entry[2].request.method === 'POST' && h.entry[1].request.method === 'PUT', `methods ${h.entry.map((e) => e.request.method)}`);
	check(h.entry[0].fullUrl === `${base}/Patient/${pat.id}`, `fullUrl ${h.entry[0].fullUrl}`);
	// One version a page, followed with nextPage. resourceHistory takes no
	// parameters, so the first page is asked for with the client's request.
	let page = await client.request(`Patient/${pat.id}/_history?_count=1`);
	const paged = [];
	for (let n = 1; page; n++) {
		check(n <= 3, 'more than 3 pages for 3 versions');
		paged.push(...(page.entry || []).map((e) => e.resource?.meta?.versionId));
		page = await client.nextPage({ bundle: page });
	}
	check(paged.join(',') === '3,2,1', `paged versions ${paged}`);
	return 'versions 3,2,1, also one a page with nextPage';
});

await step('history-type', async () => {
	const whole = await client.typeHistory({ resourceType: 'Patient' });
	check(whole.resourceType === 'Bundle' && whole.type === 'history', `${whole.resourceType} ${whole.type}`);
	const all = (whole.entry || []).filter((e) => e.resource?.id === pat.id).length;
	check(all === 3, `${all} versions of Patient/${pat.id} in the type history`);
	// The same four versions a page (typeHistory takes no parameters).
	let h = await client.request('Patient/_history?_count=4');
	const seen = new Set();
	let pages = 1;
	for (; ; pages++) {
		check(pages <= 100, 'more than 100 pages of history');
		check((h.entry || []).length <= 4, `${h.entry.length} entries with _count=4`);
		for (const e of h.entry || []) {
			if (e.resource?.id === pat.id) seen.add(e.resource.meta.versionId);
		}
		h = await client.nextPage({ bundle: h });
		if (!h) break;
	}
	check(pages > 1 && seen.size === 3, `Patient/${pat.id} versions over ${pages} pages: ${[...seen]}`);
	return `Patient/_history lists all 3 versions of Patient/${pat.id}, also over ${pages} pages with nextPage`;
});

let txPatient;
await step('transaction', async () => {
	const purl = 'urn:uuid:2b0e3f4c-8d1a-4c55-9f1e-7a1c0d9e6b21';
	const bundle = {
		resourceType: 'Bundle',
		type: 'transaction',
		entry: [
			{
				fullUrl: 'urn:uuid:6f9a1d2e-3b4c-4d5e-8f70-112233445566',
				resource: {
					resourceType: 'Observation',
					status: 'final',
					code: { coding: [{ system: 'http://loinc.org', code: '8867-4', display: 'Heart rate' }] },
					subject: { reference: purl },
					valueQuantity: { value: 72, unit: '/min', system: 'http://unitsofmeasure.org', code: '/min' },
				},
				request: { method: 'POST', url: 'Observation' },
			},
			{ fullUrl: purl, resource: patient(`Tx${tag}`, 'Grace'), request: { method: 'POST', url: 'Patient' } },
		],
	};
	const resp = await client.transaction({ body: bundle });
	check(resp.resourceType === 'Bundle' && resp.type === 'transaction-response', `${resp.resourceType} ${resp.type}`);
	check(resp.entry?.length === 2, `${resp.entry?.length} entries`);
	for (const e of resp.entry) {
		check(e.response?.status?.startsWith('201'), `entry status ${e.response?.status}`);
		check(e.response.location && e.response.etag === 'W/"1"', `location ${e.response.location}, etag ${e.response.etag}`);
	}
	// Response entries follow the request's order: the Observation first.
	const [obsType, obsId] = resp.entry[0].response.location.split('/');
	const [patType, patId] = resp.entry[1].response.location.split('/');
	check(obsType === 'Observation' && patType === 'Patient', `locations ${obsType} ${patType}`);
	const obs = await client.read({ resourceType: 'Observation', id: obsId });
	check(obs.subject?.reference === `Patient/${patId}`, `subject ${obs.subject?.reference}, want Patient/${patId}`);
	txPatient = patId;
	return `Observation/${obsId} -> Patient/${patId} (urn:uuid rewritten)`;
});

await step('transaction-rollback', async () => {
	// The second entry is invalid: nothing of the Bundle is kept.
	const tfam = `Rolled${tag}`;
	const bundle = {
		resourceType: 'Bundle',
		type: 'transaction',
		entry: [
			{ resource: patient(tfam, 'Kept'), request: { method: 'POST', url: 'Patient' } },
			{ resource: { ...patient(tfam, 'Bad'), gender: 'not-a-gender' }, request: { method: 'POST', url: 'Patient' } },
		],
	};
	const resp = await failure(() => client.transaction({ body: bundle }));
	check(resp.status === 400, `status ${resp.status}, want 400`);
	outcome(resp, 400);
	const b = await client.search({ resourceType: 'Patient', searchParams: { family: tfam } });
	check(ids(b).length === 0, `${ids(b).length} Patients kept from a failed transaction`);
	return '400, nothing kept';
});

await step('batch', async () => {
	const bundle = {
		resourceType: 'Bundle',
		type: 'batch',
		entry: [
			{ request: { method: 'GET', url: `Patient/${txPatient}` } },
			{ request: { method: 'GET', url: `Patient/no-such-${tag}` } },
		],
	};
	const resp = await client.batch({ body: bundle });
	check(resp.type === 'batch-response' && resp.entry?.length === 2, `${resp.type}, ${resp.entry?.length} entries`);
	check(resp.entry[0].response?.status?.startsWith('200') && resp.entry[0].resource?.id === txPatient, `first ${resp.entry[0].response?.status}`);
	check(resp.entry[1].response?.status?.startsWith('404'), `second ${resp.entry[1].response?.status}`);
	return '200 and 404 entries';
});

await step('delete', async () => {
	await client.delete({ resourceType: 'Patient', id: txPatient });
	// The Observation still refers to it; Concord does not enforce referential integrity.
	const resp = await failure(() => client.read({ resourceType: 'Patient', id: txPatient }));
	outcome(resp, 410);
	const h = await client.resourceHistory({ resourceType: 'Patient', id: txPatient });
	check(h.entry?.[0]?.request?.method === 'DELETE', 'the history does not start with the deletion');
	return 'read after delete: 410 Gone';
});

await step('not-found', async () => {
	const resp = await failure(() => client.read({ resourceType: 'Patient', id: `no-such-${tag}` }));
	outcome(resp, 404);
	return '404 with OperationOutcome';
});

await step('invalid', async () => {
	const resp = await failure(() =>
		client.create({ resourceType: 'Patient', body: { ...patient(family, 'Bad'), gender: 'not-a-gender', colour: 'blue' } }),
	);
	const oo = outcome(resp, 400);
	const where = oo.issue.flatMap((i) => i.expression || []);
	check(where.includes('Patient.gender') && where.some((e) => e.startsWith('Patient.colour')), `issues at ${where}`);
	return `400 with ${oo.issue.length} issues at ${where.join(', ')}`;
});

console.log(`done ${steps} steps`);
