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
	/** The `user[:password]` before `@` in the authority, when there is one (still escaped). */
	readonly userinfo?: string;
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
	let candidate = original;
	let parsed = parse(original, true);
	if (parsed.error) {
		candidate = `http://${original}`;
		const retried = parse(candidate, true);
		if (retried.error) {
			return { ...parsed, error: `failed to parse url: ${parsed.error}` };
		}

		parsed = retried;
	}

	// …and url.Parse must accept the same text (it splits off and checks a #fragment).
	const plain = parse(candidate, false);
	return plain.error ? { ...parsed, error: `failed to strict parse url: ${plain.error}` } : parsed;
}

function parse(raw: string, viaRequest: boolean): GoUrl {
	// url.Parse splits off the fragment first; ParseRequestURI keeps it in the path.
	const hash = viaRequest ? -1 : raw.indexOf('#');
	const withoutFragment = hash >= 0 ? raw.slice(0, hash) : raw;
	const fragment = hash >= 0 ? raw.slice(hash + 1) : undefined;
	// url.Error quotes what was parsed: without the fragment.
	const fail = (message: string): GoUrl => ({ scheme: '', host: '', rest: '', error: `parse ${JSON.stringify(withoutFragment)}: ${message}` });
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

	let host = '';
	let userinfo: string | undefined;
	if ((scheme !== '' || (!viaRequest && !rest.startsWith('///'))) && rest.startsWith('//')) {
		const afterSlashes = rest.slice(2);
		const slash = afterSlashes.indexOf('/');
		const authority = slash >= 0 ? afterSlashes.slice(0, slash) : afterSlashes;
		rest = slash >= 0 ? afterSlashes.slice(slash) : '';
		const at = authority.lastIndexOf('@');
		host = at >= 0 ? authority.slice(at + 1) : authority;
		const hostError = checkHost(host);
		if (hostError) {
			return fail(hostError);
		}

		// parseAuthority: the userinfo's characters, then its escapes (user and password separately).
		userinfo = at >= 0 ? authority.slice(0, at) : undefined;
		if (userinfo !== undefined) {
			if (!/^[A-Za-z0-9\-._:~!$&'()*+,;=%@]*$/.test(userinfo)) {
				return fail('net/url: invalid userinfo');
			}

			const userError = userinfo.split(':', 2).map(part => escapeError(part, false)).find(Boolean);
			if (userError) {
				return fail(userError);
			}
		}
	}

	// setPath: the path's %-escapes must be well formed (an opaque URL returned above is not checked).
	const pathError = escapeError(rest, false);
	if (pathError) {
		return fail(pathError);
	}

	if (!viaRequest && fragment !== undefined) {
		// Parse: setFragment checks the fragment's escapes, and the error quotes the whole URL.
		const fragmentError = escapeError(fragment, false);
		if (fragmentError) {
			return { scheme: '', host: '', rest: '', error: `parse ${JSON.stringify(raw)}: ${fragmentError}` };
		}
	}

	return { scheme, host, rest, ...(userinfo === undefined ? {} : { userinfo }) };
}

/**
 * net/url unescape's checks: every `%` starts two hex digits (EscapeError quotes at most 3 characters from the
 * `%`); in a host only non-ASCII bytes may be escaped, except `%25` (RFC 6874 zones).
 */
function escapeError(text: string, host: boolean): string | undefined {
	for (let index = 0; index < text.length; index++) {
		if (text[index] !== '%') {
			continue;
		}

		const escape = text.slice(index, index + 3);
		if (!/^%[0-9a-fA-F]{2}$/.test(escape)) {
			return `invalid URL escape ${JSON.stringify(escape)}`;
		}

		if (host && Number.parseInt(escape[1]!, 16) < 8 && escape !== '%25') {
			return `invalid URL escape ${JSON.stringify(escape)}`;
		}

		index += 2;
	}

	return undefined;
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

	// unescape(host, encodeHost) walks the host once: the first bad character or bad escape is the error.
	for (let index = 0; index < host.length; index++) {
		if (host[index] === '%') {
			const escapeProblem = escapeError(host.slice(index, index + 3), true);
			if (escapeProblem) {
				return escapeProblem;
			}

			index += 2;
		} else if (/[ <>"{}|\\^`]/.test(host[index]!)) {
			return `invalid character ${JSON.stringify(host[index])} in host name`;
		}
	}

	return undefined;
}
