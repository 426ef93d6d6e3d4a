/**
 * testcontainers' GenericContainer with what meshbox needs and the builder lacks:
 *   - published ports bound to 127.0.0.1 only (the default is every interface);
 *   - network aliases given at create time on the sandbox's network alone (withNetworkAliases would create
 *     the container on the default bridge and connect it to the network afterwards: two networks);
 *   - the container id as soon as it exists, so a failed start can still be inspected and cleaned up;
 *   - a second network with aliases of its own (a mesh proxy's, ./mesh.ts), joined between create and start:
 *     Docker 20.10's API (1.41) takes one network at create, and a container connected before it starts has
 *     both networks from its first moment (no window where Envoy resolves a name on one network only);
 *   - a wait strategy that does not wait: readiness is checked by the runtime (admin /ready, the upstream's
 *     control API), and the default one execs /bin/sh, which meshbox's images do not have.
 */
import type Dockerode from 'dockerode';
import { GenericContainer, type BoundPorts, type WaitStrategy } from './testcontainers.ts';

export class SandboxContainer extends GenericContainer {
	private aliases: { network: string; names: string[] } | undefined;
	private extraNetwork: { docker: Dockerode; network: string; names: readonly string[] } | undefined;
	private createdListener: ((id: string) => void) | undefined;

	constructor(image: string) {
		super(image);
		this.withWaitStrategy(new NoWait());
	}

	/** Joins `network` (only that one) under `names`. */
	withNetworkAndAliases(network: string, names: string[]): this {
		this.withNetworkMode(network);
		this.aliases = { network, names };
		return this;
	}

	/** Also joins `network` under `names` (before the container starts; see the module comment). */
	withExtraNetwork(docker: Dockerode, network: string, names: readonly string[]): this {
		this.extraNetwork = { docker, network, names };
		return this;
	}

	onCreated(listener: (id: string) => void): this {
		this.createdListener = listener;
		return this;
	}

	protected override async beforeContainerCreated(): Promise<void> {
		const bindings = this.hostConfig.PortBindings ?? {};
		for (const [port, hostPorts] of Object.entries(bindings)) {
			bindings[port] = (hostPorts as Array<{ HostPort?: string }>).map(binding => ({ ...binding, HostIp: '127.0.0.1' }));
		}

		if (this.aliases) {
			this.createOpts.NetworkingConfig = { EndpointsConfig: { [this.aliases.network]: { Aliases: this.aliases.names } } };
		}
	}

	protected override async containerCreated(id: string): Promise<void> {
		this.createdListener?.(id);
		if (this.extraNetwork) {
			const { docker, network, names } = this.extraNetwork;
			await docker.getNetwork(network).connect({ Container: id, EndpointConfig: { Aliases: [...names] } });
		}
	}
}

/** Lets start() return as soon as the container runs. */
class NoWait implements WaitStrategy {
	private timeoutMs = 60_000;

	async waitUntilReady(_container: Dockerode.Container, _boundPorts: BoundPorts): Promise<void> {
		// Readiness is the runtime's business; see the module comment.
	}

	withStartupTimeout(startupTimeoutMs: number): this {
		this.timeoutMs = startupTimeoutMs;
		return this;
	}

	isStartupTimeoutSet(): boolean {
		return true;
	}

	getStartupTimeout(): number {
		return this.timeoutMs;
	}
}
