/**
 * Credentials written into a module URL never reach meshbox's output: notes, findings, errors, logs and
 * `meshbox render` comments show the URL with them replaced. Two places hold them: the userinfo
 * (`oci://user:password@registry/…`, `https://token@host/…`) and the query (`https://host/x.wasm?access_token=…`,
 * presigned S3/GCS/Azure URLs: `X-Amz-Signature=…`, `sig=…`). (istio-agent itself prints the URL as given;
 * meshbox is stricter. For oci:// it does not even use the userinfo: it pulls `host + path`, see
 * fetch/oci-fetch.ts.)
 */

/** What replaces a credential, like Go's URL.Redacted() replaces a password. */
export const redacted = 'xxxxx';

/**
 * Query parameter names that carry a credential: OAuth (`access_token`), API keys, and the signatures and
 * credentials of presigned object-store URLs (AWS `X-Amz-Signature`/`X-Amz-Credential`/`X-Amz-Security-Token`,
 * GCS `X-Goog-Signature`, Azure SAS `sig`). Matched as a part of the name, case-insensitively.
 */
const credentialParameter = /token|passw(?:or)?d|pwd|secret|api[-_]?key|^key$|sig(?:nature)?$|credential|^auth|session/i;

/**
 * In `text`: `scheme://userinfo@` → `scheme://xxxxx@`, and the value of each credential query parameter of a
 * URL → `xxxxx`. The authority ends at the first `/`, `?`, `#` or white space; Go takes the last `@` in it as
 * the end of the userinfo, and so does this pattern (greedy).
 */
export function redactText(text: string): string {
	return text
		.replaceAll(/\b([a-zA-Z][a-zA-Z0-9+.-]*:\/\/)[^\s/?#"'@]*(?:@[^\s/?#"'@]*)*@/g, `$1${redacted}@`)
		.replaceAll(/(\b[a-zA-Z][a-zA-Z0-9+.-]*:\/\/[^\s?#"']*\?)([^\s#"']*)/g, (_match, head: string, query: string) => `${head}${redactQuery(query)}`);
}

/** `a=1&access_token=abc` → `a=1&access_token=xxxxx`; names and the other values stay as written. */
function redactQuery(query: string): string {
	return query.split(/([&;])/).map(part => {
		const equals = part.indexOf('=');
		if (equals <= 0) {
			return part;
		}

		const name = safeDecode(part.slice(0, equals));
		return credentialParameter.test(name) ? `${part.slice(0, equals)}=${redacted}` : part;
	}).join('');
}

function safeDecode(text: string): string {
	try {
		return decodeURIComponent(text);
	} catch {
		return text;
	}
}
