/**
 * Credentials written into a module URL's userinfo (`oci://user:password@registry/…`, `https://token@host/…`)
 * never reach meshbox's output: notes, findings, errors, logs and `meshbox render` comments show the URL with
 * the userinfo replaced. (istio-agent itself prints the URL as given; meshbox is stricter. For oci:// it does
 * not even use the userinfo: it pulls `host + path`, see fetch/oci-fetch.ts.)
 */

/** What replaces the userinfo, like Go's URL.Redacted() replaces a password. */
export const redacted = 'xxxxx';

/**
 * `scheme://userinfo@` anywhere in `text` → `scheme://xxxxx@`. The authority ends at the first `/`, `?`, `#` or
 * white space; Go takes the last `@` in it as the end of the userinfo, and so does this pattern (greedy).
 */
export function redactText(text: string): string {
	return text.replaceAll(/\b([a-zA-Z][a-zA-Z0-9+.-]*:\/\/)[^\s/?#"'@]*(?:@[^\s/?#"'@]*)*@/g, `$1${redacted}@`);
}
