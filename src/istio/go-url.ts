/**
 * The parts of Go's net/url that decide what istiod does with a WasmPlugin `url`: `url.Parse`,
 * `url.ParseRequestURI` (used by the webhook's strictParseURL in pkg/config/validation/validation.go) and the
 * scheme rule (`getScheme`: a letter, then letters, digits, `+`, `-`, `.`, then `:`). Only what the Wasm
 * URL rules depend on is reproduced: the scheme, the host and where the errors come from.
 */

export type GoUrl = {
	/** Lower-cased, as Go stores it. */
	readonly scheme: string;
	/** host[:port], for `scheme://host/...`; empty otherwise. */
	readonly host: string;
	/** Everything after the host (or after `scheme:` for opaque URLs). */
	readonly rest: string;
	readonly error?: string;
};

type Options = { readonly requestUri?: boolean };

export function parseGoUrl(raw: string, options: Options = {}): GoUrl {
	if (options.requestUri) {
		return strictParse(raw);
	}

	return parse(raw, false);
}

/** validation.go strictParseURL: ParseRequestURI, else again with `http://` in front. */
function strictParse(original: string): GoUrl {
	const first = parse(original, true);
	if (!first.error) {
		return first;
	}

	const retried = parse(`http://${original}`, true);
	if (retried.error) {
		return { ...first, error: `failed to parse url: ${first.error}` };
	}

	return retried;
}

function parse(raw: string, viaRequest: boolean): GoUrl {
	const fail = (message: string): GoUrl => ({ scheme: '', host: '', rest: '', error: `parse ${JSON.stringify(raw)}: ${message}` });
	// url.Parse splits off the fragment first; ParseRequestURI keeps it in the path.
	const withoutFragment = viaRequest ? raw : raw.split('#')[0] ?? '';
	if (/[\u0000-\u001f\u007f]/.test(withoutFragment)) {
		return fail('net/url: invalid control character in URL');
	}

	if (withoutFragment === '' && viaRequest) {
		return fail('empty url');
	}

	let scheme = '';
	let rest = withoutFragment;
	for (let index = 0; index < withoutFragment.length; index++) {
		const char = withoutFragment[index]!;
		if (/[a-zA-Z]/.test(char)) {
			continue;
		}

		if (/[0-9+.-]/.test(char)) {
			if (index === 0) {
				break;
			}

			continue;
		}

		if (char === ':') {
			if (index === 0) {
				return fail('missing protocol scheme');
			}

			scheme = withoutFragment.slice(0, index).toLowerCase();
			rest = withoutFragment.slice(index + 1);
		}

		break;
	}

	const query = rest.indexOf('?');
	if (query >= 0) {
		rest = rest.slice(0, query);
	}

	if (!rest.startsWith('/')) {
		if (scheme !== '') {
			// An opaque URL such as `localhost:5000/x` (scheme "localhost").
			return { scheme, host: '', rest };
		}

		if (viaRequest) {
			return fail('invalid URI for request');
		}

		const colon = rest.indexOf(':');
		const slash = rest.indexOf('/');
		if (colon >= 0 && (slash < 0 || colon < slash)) {
			return fail('first path segment in URL cannot contain colon');
		}
	}

	if ((scheme !== '' || (!viaRequest && !rest.startsWith('///'))) && rest.startsWith('//')) {
		const afterSlashes = rest.slice(2);
		const slash = afterSlashes.indexOf('/');
		const authority = slash >= 0 ? afterSlashes.slice(0, slash) : afterSlashes;
		const path = slash >= 0 ? afterSlashes.slice(slash) : '';
		const at = authority.lastIndexOf('@');
		const host = at >= 0 ? authority.slice(at + 1) : authority;
		const hostError = checkHost(host);
		if (hostError) {
			return fail(hostError);
		}

		return { scheme, host, rest: path };
	}

	return { scheme, host: '', rest };
}

/** net/url parseHost: a port must be digits; a few characters are never valid in a host. */
function checkHost(host: string): string | undefined {
	if (host.startsWith('[')) {
		const close = host.indexOf(']');
		if (close < 0) {
			return 'missing \']\' in host';
		}

		const port = host.slice(close + 1);
		return port === '' || /^:\d*$/.test(port) ? undefined : `invalid port ${JSON.stringify(port)} after host`;
	}

	const colon = host.lastIndexOf(':');
	if (colon >= 0) {
		const port = host.slice(colon);
		if (!/^:\d*$/.test(port)) {
			return `invalid port ${JSON.stringify(port)} after host`;
		}
	}

	const bad = /[ <>"{}|\\^`]/.exec(host);
	return bad ? `invalid character ${JSON.stringify(bad[0])} in host name` : undefined;
}
