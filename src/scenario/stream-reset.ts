/**
 * Why a response was cut off. When Envoy resets a stream, the client sees only "aborted", "socket hang up" or
 * an HTTP/2 RST_STREAM; the reason is in Envoy's counters. Measured with Envoy 1.40.0: a 20 MB response through
 * a plugin that pauses in on_http_response_body until end_of_stream (fixtures/plugins/rust-body) exceeds the
 * buffer limit; as the response headers were already sent, Envoy resets the stream (HTTP/1.1: the client gets
 * ECONNRESET "aborted"; HTTP/2: RST_STREAM INTERNAL_ERROR) and counts `http.<prefix>.rs_too_large` and
 * `downstream_rq_tx_reset`. Its `http` logger says so only at debug ("Resetting stream due to
 * response_payload_too_large", source/common/http/filter_manager.cc), which meshbox does not enable.
 */
import { parse } from 'yaml';
import type { EnvoyAdmin } from '../envoy-admin/admin.ts';
import { MeshboxError } from '../errors.ts';

/** Error codes and messages of Node's clients when the connection or stream breaks mid-exchange. */
const brokenCodes = new Set(['ECONNRESET', 'EPIPE', 'ERR_STREAM_PREMATURE_CLOSE', 'ERR_HTTP2_STREAM_ERROR', 'ERR_HTTP2_SESSION_ERROR', 'ERR_HTTP2_STREAM_CANCEL']);

/** Whether a client error means the stream was cut off (not a refused connection or meshbox's own timeout). */
export function isBrokenStream(error: unknown): boolean {
	if (!(error instanceof Error)) {
		return false;
	}

	const { code } = error as NodeJS.ErrnoException;
	return (code !== undefined && brokenCodes.has(code)) || /^(aborted|socket hang up|premature close)$/i.test(error.message)
		|| error.message.startsWith('HTTP/2 stream closed without a response');
}

/** Envoy's default `per_connection_buffer_limit_bytes` (api/envoy/config/listener/v3/listener.proto). */
const envoyDefaultBufferLimit = 1024 * 1024;

type Reason = {
	/** The counter's name without its prefix (`http.ingress_http.` / `cluster.upstream.`). */
	readonly stat: string;
	readonly why: (context: { bufferLimit: string }) => string;
	readonly hint: string;
};

/** Most specific first: the first reason whose counter rose is the explanation; the others are listed. */
const reasons: readonly Reason[] = [
	{
		stat: 'rs_too_large',
		why: ({ bufferLimit }) => `the response body exceeded the buffer limit of a filter that buffers it (a plugin that pauses in on_http_response_body until end_of_stream holds the whole body; the limit is the listener's per_connection_buffer_limit_bytes, ${bufferLimit})`,
		hint: 'let the plugin handle the body chunk by chunk (continue on each on_http_response_body) instead of buffering it whole, or test with a body under the limit',
	},
	{
		stat: 'rq_too_large',
		why: ({ bufferLimit }) => `the request body exceeded the buffer limit of a filter that buffers it (the listener's per_connection_buffer_limit_bytes, ${bufferLimit})`,
		hint: 'let the plugin handle the request body chunk by chunk instead of buffering it whole, or send a smaller body',
	},
	{
		stat: 'upstream_cx_destroy_remote_with_active_rq',
		why: () => 'the app (or a mock service) closed its connection while the response was under way',
		hint: 'look at what the app answered (box.upstream.requests()) and at the upstream\'s `upstream.reset` / a mock handler that resets',
	},
	{
		stat: 'upstream_rq_rx_reset',
		why: () => 'the app reset the stream while the response was under way',
		hint: 'look at what the app answered (box.upstream.requests())',
	},
	{
		stat: 'downstream_rq_idle_timeout',
		why: () => 'the stream was idle for longer than the connection manager\'s stream_idle_timeout (a plugin that pauses and never resumes?)',
		hint: 'make sure the plugin resumes the request or response it paused (timers, http_call callbacks)',
	},
	{
		stat: 'downstream_rq_timeout',
		why: () => 'the request took longer than the connection manager\'s request_timeout',
		hint: 'make sure the plugin resumes the request it paused',
	},
	{
		stat: 'downstream_rq_max_duration_reached',
		why: () => 'the stream lasted longer than its max_stream_duration',
		hint: 'make sure the plugin resumes the request or response it paused',
	},
	{
		stat: 'downstream_rq_tx_reset',
		why: () => 'a filter reset it (no more specific Envoy counter rose; a plugin that fails in a body or trailers callback does this)',
		hint: 'look at the plugin\'s log (box.logs()) and Envoy\'s (box.envoyLogs())',
	},
];

const statFilter = `(${reasons.map(reason => reason.stat).join('|')})$`;

/**
 * Explains broken streams from the rise of Envoy's counters since the last explanation (counters only grow,
 * so a rise since then is what this request, or traffic during it, caused).
 */
export class StreamResetExplainer {
	private readonly seen = new Map<string, number>();

	constructor(private readonly admin: EnvoyAdmin, private readonly bootstrapYaml: string) {}

	/** A MeshboxError saying why Envoy cut the stream, or undefined when no counter explains it. */
	async explain(error: Error): Promise<MeshboxError | undefined> {
		const { counters } = await this.admin.stats(statFilter);
		const risen: Array<{ name: string; value: number; reason: Reason }> = [];
		for (const [name, value] of counters) {
			const reason = reasons.find(candidate => name.endsWith(`.${candidate.stat}`));
			if (reason && value > (this.seen.get(name) ?? 0)) {
				risen.push({ name, value, reason });
			}

			this.seen.set(name, value);
		}

		if (risen.length === 0) {
			return undefined;
		}

		risen.sort((a, b) => reasons.indexOf(a.reason) - reasons.indexOf(b.reason));
		const [first] = risen;
		const statsText = risen.map(({ name, value }) => `${name} = ${value}`).join(', ');
		return new MeshboxError(
			'ENVOY_RESET_STREAM',
			`Envoy reset the stream: ${first!.reason.why({ bufferLimit: this.bufferLimit() })}; stat ${statsText}`,
			first!.reason.hint,
			[`the client saw: ${error.message}`],
		);
	}

	private bufferLimit(): string {
		const limit = listenerBufferLimit(this.bootstrapYaml);
		return limit === undefined ? `${envoyDefaultBufferLimit} bytes = 1 MiB, Envoy's default` : `${limit} bytes, set in the bootstrap`;
	}
}

type BootstrapListeners = { static_resources?: { listeners?: Array<{ per_connection_buffer_limit_bytes?: unknown }> } };

function listenerBufferLimit(bootstrapYaml: string): number | undefined {
	try {
		const bootstrap = parse(bootstrapYaml) as BootstrapListeners | null;
		const limit = bootstrap?.static_resources?.listeners?.find(listener => listener.per_connection_buffer_limit_bytes !== undefined)?.per_connection_buffer_limit_bytes;
		return limit === undefined ? undefined : Number(limit);
	} catch {
		return undefined;
	}
}
