/**
 * Where things are for config tests that render without starting anything: the listener on 10000, admin on
 * 9901, the app on 8080, modules at their own paths.
 */
import type { Placement } from '../../src/envoy/placement.ts';

export const testPlacement: Placement = {
	listener: { address: '127.0.0.1', port: 10_000 },
	admin: { address: '127.0.0.1', port: 9901 },
	upstream: { address: '127.0.0.1', port: 8080 },
	wasmPath: plugin => plugin.wasmPath,
};
