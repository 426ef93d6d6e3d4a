/**
 * meshbox's cache directory (Envoy installs, fetched Istio modules): MESHBOX_CACHE_DIR, else
 * `$XDG_CACHE_HOME/meshbox`, else `~/.cache/meshbox`.
 */
import os from 'node:os';
import path from 'node:path';

export function cacheDir(env: NodeJS.ProcessEnv = process.env): string {
	if (env.MESHBOX_CACHE_DIR) {
		return path.resolve(env.MESHBOX_CACHE_DIR);
	}

	const base = env.XDG_CACHE_HOME ? path.resolve(env.XDG_CACHE_HOME) : path.join(os.homedir(), '.cache');
	return path.join(base, 'meshbox');
}
