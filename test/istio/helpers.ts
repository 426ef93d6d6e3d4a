/**
 * Shared helpers for the Istio tests: parse YAML text as `meshbox check` does.
 */
import { parseIstioText, setIstioVersionField, type ParsedIstio } from '../../src/istio/parse.ts';
import { versionTraits, type IstioVersion } from '../../src/istio/version.ts';

export function parse(text: string, version: IstioVersion = '1.29'): ParsedIstio {
	return parseIstioText(text, 'test.yaml', {
		traits: versionTraits(version),
		defaultNamespace: 'default',
		suggestion: { namespace: 'default', labels: { app: 'my-app' } },
		howToSetVersion: setIstioVersionField,
	});
}

export function wasmPlugin(spec: string, metadata = 'name: p\n  namespace: default'): string {
	return `apiVersion: extensions.istio.io/v1alpha1\nkind: WasmPlugin\nmetadata:\n  ${metadata}\nspec:\n${spec.split('\n').map(line => `  ${line}`).join('\n')}\n`;
}

export function errors(parsed: ParsedIstio): string[] {
	return parsed.findings.filter(finding => finding.severity === 'error').map(finding => `${finding.where} ${finding.field}: ${finding.message}`);
}
