/**
 * A bookinfo-like mesh (issue #21, fixtures/mesh/bookinfo/): productpage → reviews v1/v2/v3 → ratings. One
 * Service `reviews` selects the three versions; the DestinationRule's subsets split them by the `version` label;
 * the VirtualService sends `end-user: jason` to v2 and everyone else 50/50 to v1 and v3. Each app answers with
 * its version; the scenario makes the calls productpage and reviews would make, through their sidecars. The
 * probe plugin on every reviews sidecar (SERVER) sees its caller: productpage's principal.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import test from 'ava';
import { meshFor, scenarioRuntimes, type MeshOptions } from 'meshbox';
import { parse } from 'yaml';

const productpagePrincipal = 'spiffe://cluster.local/ns/default/sa/bookinfo-productpage';
const reviewsPrincipal = 'spiffe://cluster.local/ns/default/sa/bookinfo-reviews';

const runtimes = await scenarioRuntimes();

/** A mesh file as the scenario API takes it: `istio.files` resolved from the file's directory, as `meshbox up --config` does. */
async function meshFile(file: string): Promise<MeshOptions> {
	const spec = parse(await readFile(file, 'utf8')) as MeshOptions & { istio: { files: string[] } };
	return { ...spec, istio: { ...spec.istio, files: spec.istio.files.map(name => path.join(path.dirname(file), name)) } };
}

for (const runtime of runtimes) {
	test(`[${runtime}] productpage → reviews: end-user jason goes to v2, everyone else to v1 or v3; the reviews plugin sees productpage`, async t => {
		const mesh = await meshFor(t, { runtime, ...await meshFile('fixtures/mesh/bookinfo/meshbox.yaml') });
		const productpage = mesh.workload('productpage-v1');

		for (let i = 0; i < 5; i++) {
			const jason = await productpage.request('http://reviews:9080/reviews/0', { headers: { 'end-user': 'jason' } });
			t.is(jason.body, 'reviews v2\n', 'the header match routes jason to subset v2');
			t.is(jason.headers['x-reviews-caller'], productpagePrincipal, 'the plugin on reviews sees its caller');
		}

		// 50/50 between v1 and v3: 40 requests miss one of them with probability 2 × 2^-40.
		const versions = new Set<string>();
		for (let i = 0; i < 40; i++) {
			const anonymous = await productpage.request('http://reviews:9080/reviews/0', { headers: { 'end-user': 'someone' } });
			versions.add(anonymous.body);
		}

		t.deepEqual([...versions].sort(), ['reviews v1\n', 'reviews v3\n'], 'no one but jason reaches v2');
		t.is(await mesh.workload('reviews-v2').recordings.hits(), 5);
		t.is(await mesh.workload('reviews-v1').recordings.hits() + await mesh.workload('reviews-v3').recordings.hits(), 40);

		// The plugin runs in each reviews proxy, on the inbound: its caller, the end-user header and istiod's inbound cluster.
		const v2Lines = (await mesh.proxy('reviews-v2').logs({ message: 'probe-reviews: ' })).map(entry => entry.message);
		t.is(v2Lines.filter(line => line === 'probe-reviews: header end-user=jason').length, 5);
		t.true(v2Lines.includes(`probe-reviews: connection.uri_san_peer_certificate=${productpagePrincipal}`), v2Lines.join('\n'));
		t.true(v2Lines.includes('probe-reviews: connection.mtls=true'), v2Lines.join('\n'));
		t.true(v2Lines.includes('probe-reviews: xds.cluster_name=inbound|9080||'), v2Lines.join('\n'));
		t.deepEqual(await mesh.proxy('productpage-v1').logs({ message: 'probe-reviews: ' }), [], 'the plugin selects app: reviews only');
	});

	test(`[${runtime}] reviews → ratings: the caller is reviews' principal; the gateway serves /productpage`, async t => {
		const mesh = await meshFor(t, { runtime, ...await meshFile('fixtures/mesh/bookinfo/meshbox.yaml') });
		const ratings = await mesh.workload('reviews-v2').request('http://ratings:9080/ratings/0');
		t.is(ratings.status, 200);
		t.is(ratings.body, 'ratings v1\n');
		t.is(await mesh.workload('ratings-v1').recordings.hits(), 1);

		// The probe on reviews is SERVER-mode: reviews' own outbound call does not run it.
		t.deepEqual(await mesh.proxy('reviews-v2').logs({ message: 'probe-reviews: request' }), []);

		// The plugin sees productpage's principal above, and reviews' principal is what ratings would see.
		const direct = await mesh.workload('reviews-v1').request('http://reviews:9080/reviews/1', { headers: { 'end-user': 'jason' } });
		t.is(direct.headers['x-reviews-caller'], reviewsPrincipal, 'reviews v1 calling reviews (routed to v2) is seen as bookinfo-reviews');

		const page = await mesh.request('/productpage');
		t.is(page.status, 200);
		t.is(page.body, 'productpage v1\n');
		const [recorded] = await mesh.workload('productpage-v1').recordings.requests();
		t.is(recorded?.path, '/productpage');
	});
}
