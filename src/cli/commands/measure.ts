/**
 * `meshbox measure --plugin FILE ...`: what the plugins cost on real Envoy, beside the same sandbox without
 * them (src/measure/measure.ts): latency percentiles, throughput, Envoy CPU per request, memory growth and a
 * leak verdict. Prints a table (or, with --json, one MeasureResult object on stdout) and writes
 * measure-report.html and measure-result.json into --out. Exit 0, or 1 when a leak is suspected.
 */
import { readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { PluginSpec } from '../../config/spec.ts';
import { modelFromFile } from '../../compose/model.ts';
import { MeshboxError } from '../../errors.ts';
import { formatMeasureTable } from '../../measure/format.ts';
import { measure } from '../../measure/measure.ts';
import { defaultMeasureDir, writeMeasureReport } from '../../measure/report.ts';
import type { Command } from '../command.ts';
import { configFileOf, parseCommandArgs } from '../options.ts';

const usage = 'meshbox measure --plugin [NAME=]FILE.wasm ... [--config meshbox.yaml] [--requests N] [--concurrency C] [--envoy-workers W] [--baseline OLD.wasm] [--updates N] [--path P] [--header "NAME: VALUE" ...] [--runtime local|docker] [--out DIR] [--json]';

const options = {
	config: { type: 'string', short: 'c' },
	plugin: { type: 'string', short: 'p', multiple: true },
	requests: { type: 'string', short: 'n' },
	concurrency: { type: 'string' },
	'envoy-workers': { type: 'string' },
	baseline: { type: 'string' },
	updates: { type: 'string' },
	path: { type: 'string' },
	header: { type: 'string', short: 'H', multiple: true },
	runtime: { type: 'string' },
	'envoy-bin': { type: 'string' },
	'envoy-image': { type: 'string' },
	'envoy-version': { type: 'string' },
	out: { type: 'string' },
	json: { type: 'boolean' },
	help: { type: 'boolean', short: 'h' },
} as const;

/** The signals that stop a measurement cleanly (Envoy and the app stopped, nothing left behind). */
const stopSignals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const satisfies readonly NodeJS.Signals[];

export const measureCommand: Command = {
	name: 'measure',
	summary: 'measure what plugins cost on real Envoy (latency, throughput, CPU, memory, leaks) beside the same sandbox without them',
	usage: [usage, '',
		'  -p, --plugin FILE      a plugin .wasm, or NAME=FILE; repeat for a chain (default: the spec\'s plugins)',
		'  -c, --config FILE      sandbox spec (default: ./meshbox.yaml when there is one); its plugins are the chain unless --plugin is given',
		'  -n, --requests N       measured requests per chain, after a warm-up (default 20000)',
		'      --concurrency C    connections of the load generator (default 8)',
		'      --envoy-workers W  Envoy worker threads (default 1, or envoy.concurrency of the spec)',
		'      --baseline FILE    an older build of the (first) plugin, measured side by side as chain baseline-build',
		'      --updates N        also measure memory over N live updates of the same module(s)',
		'      --path P           request path (default /)',
		'  -H, --header "N: V"    a request header, e.g. -H "host: my-app.example.com" for a route by host; repeatable',
		'      --runtime NAME     local (default) or docker (memory and CPU from the container\'s statistics)',
		'      --envoy-bin FILE, --envoy-image IMG, --envoy-version V   as for meshbox up',
		`      --out DIR          where measure-report.html and measure-result.json go (default ${defaultMeasureDir})`,
		'      --json             print the result as one JSON object on stdout (progress on stderr)',
		'', 'Exit status: 0, or 1 when a leak is suspected (docs/measure.md).',
	].join('\n'),
	async run({ argv, out, err }) {
		const { values } = parseCommandArgs(argv, options, usage);
		if (values.help) {
			out(this.usage);
			return 0;
		}

		const [configFile] = await configFileOf(values);
		const spec = configFile ? await loadSpec(configFile) : {};
		const plugins = values.plugin ? values.plugin.map(pluginFromFlag) : (spec.plugins ?? []);
		if (plugins.length === 0) {
			throw new MeshboxError('USAGE', configFile ? `no --plugin given and ${configFile} has no plugins` : 'no --plugin given (and no meshbox.yaml here)',
				`usage: ${usage}`);
		}

		const baseline = values.baseline === undefined ? undefined : path.resolve(values.baseline);
		if (baseline !== undefined && !existsSync(baseline)) {
			throw new MeshboxError('PLUGIN_NOT_FOUND', `--baseline ${values.baseline}: no such file`, 'give the older build\'s .wasm, e.g. --baseline old/plugin.wasm');
		}

		const controller = new AbortController();
		const onSignal = (signal: NodeJS.Signals) => {
			err(`meshbox measure: stopping (${signal})`);
			controller.abort(new MeshboxError('USAGE', `measure stopped (${signal})`, 'nothing was measured to the end; Envoy and the app are stopped'));
		};
		for (const signal of stopSignals) {
			process.on(signal, onSignal);
		}

		try {
			const { plugins: _specPlugins, port: _port, adminPort: _adminPort, ...sandbox } = spec;
			const result = await measure({
				...sandbox,
				...(values['envoy-version'] ? { envoyVersion: values['envoy-version'] } : {}),
				baseDir: configFile ? path.dirname(path.resolve(configFile)) : process.cwd(),
				plugins,
				...(baseline === undefined ? {} : { baselineBuild: baseline }),
				...countFlag('requests', values.requests, 100),
				...countFlag('concurrency', values.concurrency, 1),
				...countFlag('envoyWorkers', values['envoy-workers'], 1, '--envoy-workers'),
				...countFlag('updates', values.updates, 0),
				...(values.path ? { path: values.path } : {}),
				...(values.header ? { headers: parseHeaders(values.header) } : {}),
				runtime: values.runtime as 'local' | 'docker' | undefined,
				envoyBin: values['envoy-bin'],
				envoyImage: values['envoy-image'],
				onProgress: err,
				signal: controller.signal,
			});
			const written = await writeMeasureReport(result, values.out ?? defaultMeasureDir);
			if (values.json) {
				out(JSON.stringify(result));
			} else {
				for (const line of formatMeasureTable(result)) {
					out(line);
				}
			}

			err(`meshbox measure: report ${written.html}, result ${written.json}`);
			return result.memory.leakSuspected || result.updates?.memory.leakSuspected ? 1 : 0;
		} finally {
			for (const signal of stopSignals) {
				process.off(signal, onSignal);
			}
		}
	},
};

type MeasureSpec = { plugins?: Array<PluginSpec | string>; port?: number; adminPort?: number } & Record<string, unknown>;

/** The spec as startSandbox takes it; checked first as `meshbox up` checks it, so errors name file:line:col. */
async function loadSpec(file: string): Promise<MeasureSpec> {
	await modelFromFile(file);
	const value = parseYaml(await readFile(file, 'utf8')) as unknown;
	return (value && typeof value === 'object' ? value : {}) as MeasureSpec;
}

/** `--plugin FILE` or `--plugin NAME=FILE` (an existing file wins: a path may contain `=`), resolved against the working directory. */
function pluginFromFlag(argument: string): PluginSpec {
	const separator = argument.indexOf('=');
	if (separator > 0 && !existsSync(argument)) {
		return { name: argument.slice(0, separator), wasm: path.resolve(argument.slice(separator + 1)) };
	}

	return { wasm: path.resolve(argument) };
}

function countFlag(name: string, value: string | undefined, minimum: number, flag = `--${name}`): Record<string, number> {
	if (value === undefined) {
		return {};
	}

	const count = Number(value);
	if (!/^\d+$/.test(value) || count < minimum) {
		throw new MeshboxError('USAGE', `${flag} ${value}: expected a whole number of at least ${minimum}`, `usage: ${usage}`);
	}

	return { [name]: count };
}

/** `--header "NAME: VALUE"` (as curl's -H). */
function parseHeaders(values: readonly string[]): Record<string, string> {
	const headers: Record<string, string> = {};
	for (const value of values) {
		const separator = value.indexOf(':');
		const name = value.slice(0, separator).trim().toLowerCase();
		if (separator <= 0 || !/^[!#$%&'*+.^_`|~0-9a-z-]+$/.test(name)) {
			throw new MeshboxError('USAGE', `--header ${value}: expected "NAME: VALUE"`, 'e.g. --header "host: my-app.example.com"');
		}

		headers[name] = value.slice(separator + 1).trim();
	}

	return headers;
}
