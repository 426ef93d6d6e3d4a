/**
 * The xDS control plane inside the harness: an ADS server (gRPC, state of the world) that serves one Envoy its
 * clusters, listeners and extension configs (ECDS), and reports what Envoy did with each push: ACK (the
 * new config serves) or NACK (Envoy's reason; the last accepted config keeps serving).
 *
 * Protocol (envoy/service/discovery/v3/discovery.proto, "xDS REST and gRPC protocol" in Envoy's docs): Envoy
 * opens one StreamAggregatedResources stream and sends a DiscoveryRequest per type URL; the server answers
 * each with every resource of that type (LDS, CDS: all of them; ECDS: those named in the request), a
 * version and a nonce. Envoy's next request of that type carries the nonce: with `error_detail` it is a NACK
 * of that version, without it an ACK. A request carrying an older nonce is stale and answered by nothing.
 *
 * Consistency on NACK: Envoy may apply part of a rejected state-of-the-world update (LDS applies each listener
 * on its own), so after a NACK the server goes back to the last accepted resources of that type and pushes
 * them again: what Envoy runs and what the server believes always end up the same.
 *
 * Secrets: a mesh proxy's workload certificate and trust bundle (`default`, `ROOTCA`) come over SDS as
 * istio-agent serves them (./secret-streams.ts, a method of the same server); a gateway's credentials
 * (`kubernetes://<name>`) over this ADS stream as istiod serves them (pilot/pkg/xds/sds.go), both from the
 * snapshot's secrets. Envoy asks for secrets by name, only once a listener or cluster refers to them.
 *
 * gRPC itself is ./grpc-server.ts (node:http2): ADS and SDS are bidirectional-streaming methods.
 */
import { bidiMethod, GrpcServer, type GrpcBidiCall, type PreboundListener } from './grpc-server.ts';
import type { JsonObject } from '../util/json.ts';
import { typeUrls } from '../envoy-api/type-urls.ts';
import { envoySchemas, type EnvoySchemas } from './protobuf.ts';
import { SecretStreams, sdsMethodPath, type SdsCall, type SdsRequest } from './secret-streams.ts';

/** Every resource of a sandbox, by type URL, then by resource name. */
export type ResourceSnapshot = ReadonlyMap<string, ReadonlyMap<string, JsonObject>>;

/** The types meshbox serves, in the order Envoy should apply them (clusters before the listeners using them). */
const servedTypes = [typeUrls.secret, typeUrls.cluster, typeUrls.extensionConfig, typeUrls.listener] as const;

/** Types Envoy asks for by name (ECDS, secrets): a response carries those it named. */
const namedTypes: ReadonlySet<string> = new Set([typeUrls.extensionConfig, typeUrls.secret]);

export type PushRejection = { readonly typeUrl: string; readonly message: string };

export type PushResult = {
	readonly version: number;
	/** Empty when Envoy accepted every pushed type. */
	readonly rejections: readonly PushRejection[];
};

type DiscoveryRequest = {
	version_info?: string;
	node?: { id?: string };
	resource_names?: string[];
	type_url?: string;
	response_nonce?: string;
	error_detail?: { code?: number; message?: string };
};

/** Envoy's ADS stream: DiscoveryRequests in, DiscoveryResponses (as plain objects) out. */
type AdsCall = GrpcBidiCall<DiscoveryRequest, Record<string, unknown>>;

const adsMethodPath = '/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources';

type TypeState = {
	/** What Envoy runs (its last ACK), and at which version. */
	accepted: ReadonlyMap<string, JsonObject>;
	acceptedVersion: number;
	/** What the server serves now. */
	desired: ReadonlyMap<string, JsonObject>;
	desiredVersion: number;
	/** Resource names Envoy asked for (ECDS); undefined for wildcard types. */
	subscribed?: ReadonlySet<string>;
	/** The outstanding response: its nonce, the version it carried, and the state it was sent from. */
	sentNonce?: string;
	sentVersion?: number;
	sentState?: ReadonlyMap<string, JsonObject>;
	/** The resources of the last response (JSON text), so an unchanged state is not sent again. */
	lastSent?: string;
	/** The resource names of the outstanding response. */
	sentNames?: ReadonlySet<string>;
	/** Whether Envoy asked for this type on the current stream. */
	requested: boolean;
};

type Waiter = { version: number; types: Set<string>; rejections: PushRejection[]; resolve: (result: PushResult) => void };

export type ControlPlaneOptions = {
	/** Where the ADS server listens. Default 127.0.0.1, any free port. */
	readonly host?: string;
	readonly port?: number;
	/** A server already listening whose connections the control plane takes over (see ./grpc-server.ts). */
	readonly prebound?: PreboundListener;
	/** Called with one line per event (connect, push, ACK, NACK), for `--verbose`. */
	readonly onEvent?: (line: string) => void;
};

export class ControlPlane {
	private readonly states = new Map<string, TypeState>();
	private readonly waiters: Waiter[] = [];
	private stream: AdsCall | undefined;
	private nonceCounter = 0;
	/** Whether something was pushed: until then Envoy's requests wait (see `send`). */
	private serving = false;
	private version = 0;
	/** The last push Envoy accepted in full. */
	private acceptedPush = 0;
	private get schemas(): EnvoySchemas {
		return envoySchemas();
	}
	private readonly connectedWaiters: Array<() => void> = [];
	/** Extension configs a push need not wait for (see `setOptionalExtensionConfigs`). */
	private optionalExtensionConfig: (name: string, resource: JsonObject) => boolean = () => false;
	/** Envoy's SDS streams (istio-agent's role), served the snapshot's secrets. */
	private readonly secretStreams: SecretStreams;

	private constructor(private readonly server: GrpcServer, readonly host: string, readonly port: number, private readonly onEvent: (line: string) => void) {
		for (const typeUrl of servedTypes) {
			this.states.set(typeUrl, { accepted: new Map(), acceptedVersion: 0, desired: new Map(), desiredVersion: 0, requested: false });
		}

		this.secretStreams = new SecretStreams({
			typeUrl: typeUrls.secret,
			encode: resource => this.schemas.encodeAny({ '@type': typeUrls.secret, ...resource }),
			nextNonce: () => this.nextNonce(),
			onEvent,
		});
	}

	static async start(options: ControlPlaneOptions = {}): Promise<ControlPlane> {
		// Schemas are loaded at the first push or message, not here: the port is what a bootstrap needs first.
		const [request, response] = ['envoy.service.discovery.v3.DiscoveryRequest', 'envoy.service.discovery.v3.DiscoveryResponse'];
		const host = options.host ?? '127.0.0.1';
		let plane: ControlPlane | undefined;
		const ads = bidiMethod<DiscoveryRequest, Record<string, unknown>>({
			decode: bytes => envoySchemas().decode(request, bytes) as DiscoveryRequest,
			encode: message => envoySchemas().encodeObject(response, message),
			// Envoy learns the port from the bootstrap, so no call arrives before `plane` is set; ended if one did.
			handle: call => {
				if (plane) {
					plane.attach(call);
				} else {
					call.end();
				}
			},
		});
		const sds = bidiMethod<SdsRequest, Record<string, unknown>>({
			decode: bytes => envoySchemas().decode(request, bytes) as SdsRequest,
			encode: message => envoySchemas().encodeObject(response, message),
			handle: (call: SdsCall) => {
				if (plane) {
					plane.secretStreams.attach(call);
				} else {
					call.end();
				}
			},
		});
		const methods = { [adsMethodPath]: ads, [sdsMethodPath]: sds };
		const server = await GrpcServer.listen({ host, port: options.port ?? 0, prebound: options.prebound, methods });
		plane = new ControlPlane(server, host, server.port, options.onEvent ?? (() => undefined));
		return plane;
	}

	/** The version of the last push Envoy accepted in full (0 before the first one). */
	get acceptedVersion(): number {
		return this.acceptedPush;
	}

	/** The resources Envoy runs now (its last ACK of each type). */
	accepted(): ResourceSnapshot {
		return new Map([...this.states].map(([typeUrl, state]) => [typeUrl, state.accepted]));
	}

	/** Resolves once an Envoy has opened its ADS stream. */
	async connected(): Promise<void> {
		if (this.stream) {
			return;
		}

		await new Promise<void>(resolve => {
			this.connectedWaiters.push(resolve);
		});
	}

	/**
	 * Serves `snapshot` from now on. Resolves when Envoy answered every type that changed (ACK or NACK; types
	 * Envoy has not asked for yet are answered when it does). A NACKed type goes back to its last accepted resources.
	 */
	async push(snapshot: ResourceSnapshot): Promise<PushResult> {
		this.serving = true;
		const changed = new Set<string>();
		for (const typeUrl of servedTypes) {
			const next = snapshot.get(typeUrl) ?? new Map<string, JsonObject>();
			if (!sameResources(this.states.get(typeUrl)!.desired, next)) {
				// Encode now: a resource Envoy's schema refuses fails here, with its field path, before anything is sent.
				for (const resource of next.values()) {
					this.schemas.encodeAny({ '@type': typeUrl, ...resource });
				}

				changed.add(typeUrl);
			}
		}

		if (changed.size === 0) {
			// The first push may change nothing (a warm Envoy's start): what Envoy asked for meanwhile is answered.
			this.sendAll();
			return { version: this.acceptedVersion, rejections: [] };
		}

		this.version += 1;
		const version = this.version;
		for (const typeUrl of changed) {
			const state = this.states.get(typeUrl)!;
			state.desired = snapshot.get(typeUrl) ?? new Map<string, JsonObject>();
			state.desiredVersion = version;
		}

		// Secrets hold a push only where Envoy uses them: over ADS when it subscribes to one that changed (a
		// gateway's credential), over SDS on the streams subscribed to one (./secret-streams.ts). Envoy asks for no
		// secret that nothing refers to, and a listener waiting for one it asked for is not ready meanwhile.
		const secrets = this.states.get(typeUrls.secret)!;
		if (changed.has(typeUrls.secret) && !(secrets.requested && [...(secrets.subscribed ?? [])].some(name => JSON.stringify(secrets.sentState?.get(name)) !== JSON.stringify(secrets.desired.get(name))))) {
			changed.delete(typeUrls.secret);
		}

		const sds = this.secretStreams.update(snapshot.get(typeUrls.secret) ?? new Map<string, JsonObject>(), version);
		const ads = changed.size === 0 ? Promise.resolve<PushResult>({ version, rejections: [] }) : new Promise<PushResult>(resolve => {
			this.waiters.push({ version, types: changed, rejections: [], resolve });
		});
		this.sendAll();
		const [adsResult, sdsRejections] = await Promise.all([ads, sds]);
		const rejections = [...adsResult.rejections, ...sdsRejections.map(rejection => ({ typeUrl: typeUrls.secret, message: `secret ${rejection.names.join(', ')}: ${rejection.message}` }))];
		if (rejections.length === 0) {
			this.acceptedPush = Math.max(this.acceptedPush, version);
		}

		return { version, rejections };
	}

	/**
	 * Extension configs served only for a listener that may still ask for them: a push does not wait for Envoy to
	 * ask for one of these (it may never do). A warm Envoy's configs of stopped sandboxes, while their listeners
	 * drain (src/runtime/local/warm-isolation.ts).
	 */
	setOptionalExtensionConfigs(optional: (name: string, resource: JsonObject) => boolean): void {
		this.optionalExtensionConfig = optional;
	}

	/** The extension config names Envoy subscribes to now (its last ECDS request). */
	subscribedExtensionConfigs(): ReadonlySet<string> {
		return this.states.get(typeUrls.extensionConfig)!.subscribed ?? new Set();
	}

	/**
	 * Whether the server's sockets keep this process alive. A warm Envoy's control plane (src/runtime/local/
	 * warm-envoy.ts) lets go of the process while no sandbox uses it, so a test file's process can end.
	 */
	keepProcessAlive(on: boolean): void {
		this.server.keepProcessAlive(on);
	}

	async stop(): Promise<void> {
		this.secretStreams.endAll();
		this.stream?.end();
		this.stream = undefined;
		// Envoy keeps its stream open; do not wait long for it to hang up.
		await this.server.close(200);
	}

	private attach(stream: AdsCall): void {
		// One Envoy per control plane: a new stream (Envoy reconnected) replaces the old one.
		this.stream?.end();
		this.stream = stream;
		for (const state of this.states.values()) {
			state.requested = false;
			state.sentNonce = undefined;
			state.lastSent = undefined;
		}

		this.onEvent('xds: Envoy connected');
		for (const wake of this.connectedWaiters.splice(0)) {
			wake();
		}

		stream.on('data', (request: DiscoveryRequest) => {
			this.onRequest(stream, request);
		});
		stream.on('error', () => undefined);
		stream.on('end', () => {
			if (this.stream === stream) {
				this.stream = undefined;
			}

			stream.end();
		});
	}

	private onRequest(stream: AdsCall, request: DiscoveryRequest): void {
		if (stream !== this.stream || !request.type_url) {
			return;
		}

		const state = this.states.get(request.type_url);
		if (!state) {
			// A type meshbox does not serve (RDS, EDS with inline resources are never asked for): answer empty so Envoy's init is not held.
			stream.write({ version_info: '0', resources: [], type_url: request.type_url, nonce: this.nextNonce() });
			return;
		}

		if (request.resource_names && request.resource_names.length > 0) {
			state.subscribed = new Set(request.resource_names);
		}

		if (request.response_nonce && state.sentNonce !== undefined) {
			if (request.response_nonce !== state.sentNonce) {
				// Stale: Envoy answers an older response; the newer one is on its way.
				return;
			}

			this.settle(request.type_url, state, request);
			return;
		}

		// First request of this type on this stream (or a subscription change): serve what there is.
		state.requested = true;
		this.send(request.type_url);
	}

	private settle(typeUrl: string, state: TypeState, request: DiscoveryRequest): void {
		const version = state.sentVersion ?? 0;
		state.sentNonce = undefined;
		if (request.error_detail?.message) {
			const message = request.error_detail.message;
			this.onEvent(`xds: Envoy rejected ${shortType(typeUrl)} version ${version}: ${message}`);
			for (const waiter of this.waiters) {
				if (waiter.types.has(typeUrl) && waiter.version <= version) {
					waiter.rejections.push({ typeUrl, message });
				}
			}

			// Back to what Envoy runs, and say so again so both sides agree; but not over a newer push that waits for
			// this answer (a warm Envoy's next sandbox, pushed while the last one's release was being answered): a NACK
			// of this version says nothing of that one, which is sent now and settled by its own answer (issue #19,
			// item 5: going back dropped it, and its push never resolved).
			if (state.desiredVersion <= version) {
				state.desired = state.accepted;
				state.desiredVersion = state.acceptedVersion;
			}

			this.settleWaiters(typeUrl, version);
			this.send(typeUrl);
			return;
		}

		// What was sent is what Envoy accepted: a newer push may be desired already, and is not accepted yet.
		state.accepted = state.sentState ?? state.desired;
		state.acceptedVersion = version;
		this.onEvent(`xds: Envoy accepted ${shortType(typeUrl)} version ${version}`);
		// ECDS: Envoy asks for an extension config only once a listener refers to it, so an ACK of a response
		// without some of the desired configs settles nothing: the request for them is on its way, and the
		// listener using them warms (serves no traffic) until they arrive.
		const complete = [...state.desired].every(([name, resource]) => (state.sentNames?.has(name) ?? false) || this.optionalExtensionConfig(name, resource));
		if (complete || typeUrl !== typeUrls.extensionConfig) {
			this.settleWaiters(typeUrl, version);
		}

		// A newer state, or (ECDS) a request that also changed the subscription: answer it.
		this.send(typeUrl);
	}

	private settleWaiters(typeUrl: string, version: number): void {
		const ecds = this.states.get(typeUrls.extensionConfig)!;
		for (const waiter of [...this.waiters]) {
			if (waiter.types.has(typeUrl) && waiter.version <= version) {
				waiter.types.delete(typeUrl);
			}

			// Envoy asks for no extension config of a listener it refused: nothing more will come for them.
			if (waiter.types.has(typeUrls.extensionConfig) && !waiter.types.has(typeUrls.listener) && waiter.rejections.length > 0 && ecds.sentNonce === undefined) {
				waiter.types.delete(typeUrls.extensionConfig);
			}

			if (waiter.types.size === 0) {
				this.waiters.splice(this.waiters.indexOf(waiter), 1);
				// `push` counts it as accepted once its secrets (SDS) were accepted too.
				waiter.resolve({ version: waiter.version, rejections: waiter.rejections });
			}
		}
	}

	/** `send` for every type: a type whose answer Envoy has already is not sent again (see `lastSent`). */
	private sendAll(): void {
		for (const typeUrl of servedTypes) {
			this.send(typeUrl);
		}
	}

	private send(typeUrl: string): void {
		const state = this.states.get(typeUrl)!;
		if (!this.serving || !this.stream || !state.requested || state.sentNonce !== undefined) {
			// Nothing pushed yet, not asked for yet, or a response is outstanding: sent at the first push, or when
			// Envoy asks or answers. Before the first push there is nothing to answer with: an Envoy that connects
			// first (`meshbox up`'s head start, src/runtime/local/head-start.ts, runs before this server exists)
			// would otherwise get empty clusters, then the listener that routes to them ("unknown cluster").
			return;
		}

		const entries = [...state.desired.entries()]
			.filter(([name]) => !namedTypes.has(typeUrl) || !state.subscribed || state.subscribed.has(name));
		const text = `${state.desiredVersion}:${JSON.stringify(entries)}`;
		if (state.lastSent === text) {
			return;
		}

		const resources = entries.map(([, resource]) => this.schemas.encodeAny({ '@type': typeUrl, ...resource }));
		state.lastSent = text;
		state.sentNames = new Set(entries.map(([name]) => name));
		state.sentNonce = this.nextNonce();
		state.sentVersion = state.desiredVersion;
		state.sentState = state.desired;
		this.stream.write({ version_info: String(state.desiredVersion), resources, type_url: typeUrl, nonce: state.sentNonce });
	}

	private nextNonce(): string {
		this.nonceCounter += 1;
		return String(this.nonceCounter);
	}
}

function sameResources(a: ReadonlyMap<string, JsonObject>, b: ReadonlyMap<string, JsonObject>): boolean {
	if (a.size !== b.size) {
		return false;
	}

	for (const [name, resource] of a) {
		const other = b.get(name);
		if (!other || JSON.stringify(other) !== JSON.stringify(resource)) {
			return false;
		}
	}

	return true;
}

function shortType(typeUrl: string): string {
	return typeUrl.slice(typeUrl.lastIndexOf('.') + 1);
}



/** A sandbox's resources (src/envoy) as the control plane serves them: by type URL, then by name. */
export function snapshotOf(resources: {
	readonly listeners: readonly JsonObject[];
	readonly clusters: readonly JsonObject[];
	readonly extensionConfigs: readonly JsonObject[];
	/** Secret resources (a mesh proxy's): over SDS, and over ADS for the names Envoy asks there. */
	readonly secrets?: readonly JsonObject[];
}): ResourceSnapshot {
	const byName = (list: readonly JsonObject[]) => new Map(list.map(resource => [String(resource.name), resource]));
	return new Map([
		[typeUrls.secret, byName(resources.secrets ?? [])],
		[typeUrls.cluster, byName(resources.clusters)],
		[typeUrls.extensionConfig, byName(resources.extensionConfigs)],
		[typeUrls.listener, byName(resources.listeners)],
	]);
}
