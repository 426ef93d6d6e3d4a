/**
 * Assertions for ava scenarios that say what a user means: "the plugin answered and the app never saw the
 * request", "the request reached the app", "the plugin logged this".
 */
import type { ExecutionContext } from 'ava';
import type { PluginLogEntry } from '../envoy/logs.ts';
import type { PluginLogFilter, Sandbox, SandboxResponse } from './sandbox.ts';

/**
 * The response came from a plugin (a local reply), not from the app: the upstream recorded no request, and
 * Envoy's router, which adds `x-envoy-upstream-service-time` to every upstream response, never ran.
 */
export async function assertShortCircuit(t: ExecutionContext, response: SandboxResponse, box: Sandbox, expectedStatus?: number): Promise<void> {
	if (expectedStatus !== undefined) {
		t.is(response.status, expectedStatus, 'status of the local reply');
	}

	t.is(await box.upstream.hits(), 0, 'the upstream must not have been called');
	t.is(response.headers['x-envoy-upstream-service-time'], undefined, 'a local reply carries no x-envoy-upstream-service-time');
}

/** The request went through Envoy to the app. */
export async function assertReachedUpstream(t: ExecutionContext, response: SandboxResponse, box: Sandbox): Promise<void> {
	t.true(await box.upstream.hits() > 0, 'the upstream must have been called');
	t.not(response.headers['x-envoy-upstream-service-time'], undefined, 'an upstream response carries x-envoy-upstream-service-time');
}

/** A plugin log entry matching `filter` exists; returns it. */
export async function assertLogged(t: ExecutionContext, box: Sandbox, filter: PluginLogFilter): Promise<PluginLogEntry | undefined> {
	const entries = await box.logs(filter);
	if (entries.length === 0) {
		const all = await box.logs({ plugin: filter.plugin });
		t.fail(`no plugin log entry matches ${describeFilter(filter)}; the plugin logged:\n${all.map(entry => `  [${entry.level}] ${entry.plugin ?? '?'}: ${entry.message}`).join('\n') || '  (nothing)'}`);
		return undefined;
	}

	t.pass();
	return entries[0];
}

function describeFilter(filter: PluginLogFilter): string {
	return JSON.stringify({ ...filter, message: filter.message instanceof RegExp ? filter.message.toString() : filter.message });
}
