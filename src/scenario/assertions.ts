/**
 * Assertions for scenarios (ava's `t`, or any runner's through an adapter: ./test-context.ts) that say what a user means: "the plugin answered and the app never saw the
 * request", "the request reached the app", "the plugin logged this".
 */
import type { LogLevel } from '../config/spec.ts';
import { pluginLabel, type PluginLogEntry } from '../envoy-admin/logs.ts';
import { describeMessageMatch, type MessageMatch } from './log-filter.ts';
import type { RecordedRequest } from '../upstream/recording-server.ts';
import { requestIdHeader, type PluginLogFilter, type Sandbox, type SandboxResponse } from './sandbox.ts';
import type { ScenarioAssertions } from './test-context.ts';

/**
 * The response came from a plugin (a local reply), not from the app: none of the app's recordings is this
 * request. Decided from the app's own recordings, by the `x-meshbox-request-id` box.request() sent, not from
 * response headers (a plugin can remove `x-envoy-upstream-service-time`). Recordings without that header
 * cannot be told apart from this request, so they fail the assertion too (clear() between steps helps).
 */
export async function assertShortCircuit(t: ScenarioAssertions, response: SandboxResponse, box: Sandbox, expectedStatus?: number): Promise<void> {
	if (expectedStatus !== undefined) {
		t.is(response.status, expectedStatus, 'status of the local reply');
	}

	const { mine, unmarked, kept } = await correlate(response, box);
	if (mine.length > 0) {
		t.fail(`the request reached the app: the app recorded ${describeRecording(mine[0]!)} with ${requestIdHeader}: ${response.requestId}`);
	} else if (unmarked.length > 0) {
		t.fail(`cannot tell whether the request reached the app: ${unmarked.length} of its ${kept} recorded requests carry no ${requestIdHeader} `
			+ `(${unmarked.slice(-3).map(describeRecording).join('; ')}). A plugin that removes that request header hides which request `
			+ 'a recording is, and so does traffic not sent with box.request(); call box.upstream.clear() before the request to start from none');
	} else {
		t.pass();
	}
}

/**
 * The request went through Envoy to the app: one of the app's recordings carries the `x-meshbox-request-id`
 * box.request() sent (not decided from response headers, which a plugin can remove).
 */
export async function assertReachedUpstream(t: ScenarioAssertions, response: SandboxResponse, box: Sandbox): Promise<void> {
	const { mine, unmarked, kept, total } = await correlate(response, box);
	if (mine.length > 0) {
		t.pass();
		return;
	}

	const why = unmarked.length > 0
		? `; ${unmarked.length} of them carry no ${requestIdHeader}: if a plugin removes or rewrites that request header, meshbox cannot tell which one is this request`
		: '';
	const dropped = total > kept ? `; the app keeps its latest ${kept} recordings, ${total - kept} older ones were dropped` : '';
	t.fail(`the request did not reach the app (status ${response.status}): none of the ${kept} requests it recorded carries ${requestIdHeader}: ${response.requestId}${why}${dropped}`);
}

type Correlation = { mine: RecordedRequest[]; unmarked: RecordedRequest[]; kept: number; total: number };

async function correlate(response: SandboxResponse, box: Sandbox): Promise<Correlation> {
	const [recorded, total] = await Promise.all([box.upstream.requests(), box.upstream.hits()]);
	return {
		mine: recorded.filter(request => request.headers[requestIdHeader] === response.requestId),
		unmarked: recorded.filter(request => request.headers[requestIdHeader] === undefined),
		kept: recorded.length,
		total,
	};
}

function describeRecording(request: RecordedRequest): string {
	return `${request.method} ${request.path}`;
}

/**
 * A plugin log entry matching `filter` exists; returns it. On failure it lists what the plugin logged, names
 * the lines that match but cannot say which plugin logged them (root contexts sharing root_id and vm_id), and
 * says how to raise Envoy's `wasm` logger when the wanted level is below what Envoy prints.
 */
export async function assertLogged(t: ScenarioAssertions, box: Sandbox, filter: PluginLogFilter): Promise<PluginLogEntry | undefined> {
	const entries = await box.logs(filter);
	if (entries.length > 0) {
		t.pass();
		return entries[0];
	}

	// What the plugin logged, with the lines that may be its own (ambiguous root-context lines).
	const { plugin } = filter;
	const logged = (await box.logs()).filter(entry => plugin === undefined || entry.plugin === plugin || (entry.plugin === undefined && entry.candidates.includes(plugin)));
	const listed = logged.map(entry => `  [${entry.level}] ${pluginLabel(entry)}: ${entry.message}`).join('\n') || '  (nothing)';
	const notes = [ambiguityNote(filter, await box.logs({ ...filter, plugin: undefined })), levelNote(filter, box.pluginLogLevel)].filter(Boolean);
	t.fail([`no plugin log entry matches ${describeFilter(filter)}; the plugin logged:`, listed, ...notes].join('\n'));
	return undefined;
}

/** When `filter` names a plugin: the lines that match but fit several plugins, and why. */
function ambiguityNote(filter: PluginLogFilter, withoutPlugin: readonly PluginLogEntry[]): string | undefined {
	const { plugin } = filter;
	const shared = plugin === undefined ? [] : withoutPlugin.filter(entry => entry.plugin === undefined && entry.candidates.includes(plugin));
	if (shared.length === 0) {
		return undefined;
	}

	return `${shared.length} matching line(s) may be ${plugin}'s but name no single plugin: they come from root contexts of ${pluginLabel(shared[0]!).split('|').join(', ')}, `
		+ 'which share root_id and vm_id, and Envoy\'s root-context prefix has no plugin name. Give each plugin its own rootId to tell them apart, '
		+ 'or leave `plugin` out of the filter';
}

/** proxy-wasm levels in Envoy's spelling, lowest first; `off` prints nothing. */
const envoyLevels: readonly LogLevel[] = ['trace', 'debug', 'info', 'warning', 'error', 'critical', 'off'];

/** When the wanted level is below the level Envoy's wasm logger runs at: Envoy never printed such a line. */
function levelNote(filter: PluginLogFilter, loggerLevel: LogLevel | undefined): string | undefined {
	const wanted = filter.level ?? filter.minLevel;
	if (wanted === undefined || loggerLevel === undefined) {
		return undefined;
	}

	const wantedLevel: LogLevel = wanted === 'warn' ? 'warning' : wanted;
	if (envoyLevels.indexOf(wantedLevel) >= envoyLevels.indexOf(loggerLevel)) {
		return undefined;
	}

	return `Envoy's wasm logger runs at ${loggerLevel}, so Envoy does not print a plugin's ${wanted} lines. Raise it in the sandbox's spec: `
		+ `envoy: { componentLogLevels: { wasm: ${wantedLevel} } } (meshbox.yaml: envoy.componentLogLevels.wasm; an Istio pod: the annotation sidecar.istio.io/componentLogLevel: "wasm:${wantedLevel}")`;
}

function describeFilter(filter: PluginLogFilter): string {
	const fields = Object.entries(filter).filter(([, value]) => value !== undefined)
		.map(([key, value]) => `${key}: ${key === 'message' ? describeMessageMatch(value as MessageMatch) : JSON.stringify(value)}`);
	return `{ ${fields.join(', ')} }`;
}
