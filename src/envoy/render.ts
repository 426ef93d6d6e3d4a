/**
 * Bootstrap → YAML text, as `meshbox render` prints it and as runtimes hand it to Envoy.
 */
import { stringify } from 'yaml';
import type { JsonObject } from './bootstrap.ts';

export function renderBootstrapYaml(bootstrap: JsonObject, headerLines: readonly string[] = []): string {
	const header = headerLines.map(line => `# ${line}`.trimEnd()).join('\n');
	const body = stringify(bootstrap, { lineWidth: 0, indent: 2 });
	return header ? `${header}\n${body}` : body;
}
