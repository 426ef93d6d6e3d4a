/**
 * DELETE THIS FILE when the mesh scenario API (issue #21, src/scenario/mesh.ts) is merged.
 *
 * The scenarios/mesh-*.ts files were written before that API landed, against the shared design
 * (/work/prompts/mesh-design.md): `startMesh({ mesh, istio })` / `meshFor(t, …)`, `mesh.request(path, { host })`
 * through the first gateway, `mesh.workload(name).request(url)` through its sidecar's outbound,
 * `.requestInbound(path)` straight to its sidecar's inbound, `.recordings`, `mesh.proxy(name).logs()`.
 * This declaration only lets them type-check meanwhile. Its names are `const`s and type aliases on purpose:
 * next to the real exports they are duplicate declarations, so tsc fails until this file is gone, and then
 * checks the scenarios against the real API.
 */
import type { ExecutionContext } from 'ava';
import type { PluginLogEntry, PluginLogFilter, RequestOptions, RuntimeName, SandboxResponse, UpstreamRecordings } from '../../src/index.ts';

declare module 'meshbox' {
	/** meshbox.yaml's `mesh:` and `istio:` (istio.files relative to the working directory). */
	export type MeshOptions = { mesh: object; istio?: object; runtime?: RuntimeName };
	export type MeshRequestOptions = RequestOptions & { host?: string; gateway?: string };
	export type MeshWorkload = {
		/** Through the workload's sidecar (outbound), e.g. `http://reviews:9080/x`. */
		request(url: string, options?: RequestOptions): Promise<SandboxResponse>;
		/** Straight to the sidecar's inbound listener, as a client from outside the mesh (plain text). */
		requestInbound(path: string, options?: RequestOptions): Promise<SandboxResponse>;
		readonly recordings: UpstreamRecordings;
	};
	export type MeshProxy = { logs(filter?: PluginLogFilter): Promise<PluginLogEntry[]>; readonly adminUrl: string };
	export type Mesh = {
		/** The first gateway's listener URL. */
		readonly url: string;
		request(path: string, options?: MeshRequestOptions): Promise<SandboxResponse>;
		workload(name: string): MeshWorkload;
		proxy(name: string): MeshProxy;
		stop(): Promise<void>;
	};
	export const startMesh: (options: MeshOptions) => Promise<Mesh>;
	export const meshFor: (t: ExecutionContext, options: MeshOptions) => Promise<Mesh>;
}
