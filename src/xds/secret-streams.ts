/**
 * SDS as istio-agent serves it to its Envoy: `/envoy.service.secret.v3.SecretDiscoveryService/StreamSecrets`
 * (state of the world), on the control plane's gRPC server; the bootstrap's static cluster `sds-grpc` points there
 * (src/envoy/bootstrap.ts). istio-agent's server is security/pkg/nodeagent/sds/sdsservice.go.
 *
 * Envoy opens a stream per SDS subscription (each `SdsSecretConfig` names one secret: `default`, `ROOTCA`), or
 * shares one; a request names every secret it wants on that stream (`resource_names`). Each stream gets the
 * secrets it names, once they exist (istio-agent answers only when it has the certificate; the listener or cluster
 * waits meanwhile: `initial_fetch_timeout: 0s`), with a version and a nonce. The next request carrying that nonce
 * answers it: an ACK, or a NACK (`error_detail`), after which Envoy keeps the last secret it accepted, and so does
 * this server's view of that stream: the refused secret is not sent again until it changes.
 */
import type { GrpcBidiCall } from './grpc-server.ts';
import type { JsonObject } from '../util/json.ts';

export type SdsRequest = {
	version_info?: string;
	resource_names?: string[];
	type_url?: string;
	response_nonce?: string;
	error_detail?: { code?: number; message?: string };
};

export type SdsCall = GrpcBidiCall<SdsRequest, Record<string, unknown>>;

export const sdsMethodPath = '/envoy.service.secret.v3.SecretDiscoveryService/StreamSecrets';

/** A NACK of secrets on one stream. */
export type SecretRejection = { readonly names: readonly string[]; readonly message: string };

type StreamState = {
	readonly call: SdsCall;
	/** The secret names of the stream's last request. */
	subscribed: ReadonlySet<string>;
	/** The outstanding response. */
	sentNonce?: string;
	sentNames?: readonly string[];
	/** What the last response carried (version and resources), so an unchanged state is not sent again. */
	lastSent?: string;
	/** Called with the answer (undefined: ACK; a rejection: NACK) to the outstanding response, or when the stream ends. */
	answered: Array<(rejection: SecretRejection | undefined) => void>;
};

export type SecretStreamsOptions = {
	readonly typeUrl: string;
	/** Encodes one Secret resource as an Any: what a response carries. */
	readonly encode: (resource: JsonObject) => unknown;
	readonly nextNonce: () => string;
	readonly onEvent: (line: string) => void;
};

export class SecretStreams {
	private readonly streams = new Set<StreamState>();
	private desired: ReadonlyMap<string, JsonObject> = new Map();
	private version = 0;

	constructor(private readonly options: SecretStreamsOptions) {}

	/** Serves Envoy's SDS stream until it ends. */
	attach(call: SdsCall): void {
		const state: StreamState = { call, subscribed: new Set(), answered: [] };
		this.streams.add(state);
		call.on('data', request => {
			this.onRequest(state, request);
		});
		call.on('error', () => undefined);
		call.on('end', () => {
			this.streams.delete(state);
			// Nothing more will come from it: a push waiting for its answer goes on.
			for (const settle of state.answered.splice(0)) {
				settle(undefined);
			}

			call.end();
		});
	}

	/**
	 * Serves `next` (secrets by name) as version `version` from now on. Resolves, once every stream subscribed to a
	 * secret that changed answered the new one, with the NACKs; at once when no stream subscribes to any of them.
	 */
	async update(next: ReadonlyMap<string, JsonObject>, version: number): Promise<readonly SecretRejection[]> {
		const changed = new Set<string>();
		for (const name of new Set([...this.desired.keys(), ...next.keys()])) {
			if (JSON.stringify(this.desired.get(name)) !== JSON.stringify(next.get(name))) {
				changed.add(name);
			}
		}

		this.desired = next;
		this.version = version;
		const answers: Array<Promise<SecretRejection | undefined>> = [];
		for (const state of this.streams) {
			if ([...state.subscribed].some(name => changed.has(name)) && this.send(state)) {
				answers.push(new Promise(resolve => state.answered.push(resolve)));
			}
		}

		const rejections = await Promise.all(answers);
		return rejections.filter((rejection): rejection is SecretRejection => rejection !== undefined);
	}

	/** Ends every stream (the server is stopping). */
	endAll(): void {
		for (const state of this.streams) {
			state.call.end();
		}
	}

	private onRequest(state: StreamState, request: SdsRequest): void {
		const names = new Set(request.resource_names ?? []);
		const subscriptionChanged = names.size !== state.subscribed.size || [...names].some(name => !state.subscribed.has(name));
		state.subscribed = names;
		if (request.response_nonce && state.sentNonce !== undefined && request.response_nonce === state.sentNonce) {
			this.settle(state, request);
		} else if (subscriptionChanged && state.sentNonce !== undefined && !(state.sentNames ?? []).some(name => names.has(name))) {
			// Envoy no longer wants what it was sent (the listener using it went away): no answer will come for it.
			state.sentNonce = undefined;
			for (const settle of state.answered.splice(0)) {
				settle(undefined);
			}
		} else if (request.response_nonce && state.sentNonce !== undefined && !subscriptionChanged) {
			// Stale: Envoy answers an older response; the newer one is on its way.
			return;
		}

		// The first request, a changed subscription, or after an answer: serve what the stream lacks.
		if (state.sentNonce === undefined || subscriptionChanged) {
			this.send(state);
		}
	}

	private settle(state: StreamState, request: SdsRequest): void {
		const names = state.sentNames ?? [];
		state.sentNonce = undefined;
		const message = request.error_detail?.message;
		const rejection = message ? { names, message } : undefined;
		this.options.onEvent(rejection
			? `sds: Envoy rejected secret ${names.join(', ')} (it keeps the last one it accepted): ${message}`
			: `sds: Envoy accepted secret ${names.join(', ')}`);
		for (const settle of state.answered.splice(0)) {
			settle(rejection);
		}
	}

	/** Sends the stream's secrets if they differ from what it was sent last; whether something was sent. */
	private send(state: StreamState): boolean {
		const entries = [...state.subscribed].flatMap(name => {
			const resource = this.desired.get(name);
			return resource ? [[name, resource] as const] : [];
		});
		if (entries.length === 0) {
			// istio-agent answers only with a secret it has: the listener or cluster waits for it (initial_fetch_timeout 0s).
			return false;
		}

		const text = JSON.stringify(entries);
		if (state.lastSent === text) {
			return false;
		}

		state.lastSent = text;
		state.sentNames = entries.map(([name]) => name);
		state.sentNonce = this.options.nextNonce();
		state.call.write({
			version_info: String(this.version),
			resources: entries.map(([, resource]) => this.options.encode(resource)),
			type_url: this.options.typeUrl,
			nonce: state.sentNonce,
		});
		return true;
	}
}
