/**
 * Where the test fixtures are. Plugins are built from source by `npm run build:plugins` (CI rebuilds them
 * before the tests), and committed so tests also run on machines without the SDK toolchains.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export const fixturePlugin = (name: string): string => path.join(repoRoot, 'fixtures', 'plugins', name, `${name}.wasm`);

/** The seed article's plugin: answers every request itself (200, `Hello from Wasm!\n`). */
export const seedWasm = fixturePlugin('seed-rust');

/** Requires JSON configuration `{"header": "...", "value": "..."}`; refuses to configure otherwise. */
export const strictConfigWasm = fixturePlugin('rust-strict-config');

export const meshboxCli = path.join(repoRoot, 'bin', 'meshbox.js');
