/**
 * Tests only: protobufjs's own generated code (`Type.encode(Type.fromObject(…))`, `Type.toObject(Type.decode(…))`)
 * over Envoy's whole API, the codec meshbox's encoder (./wire.ts on ./schema-view.ts) is checked against in
 * test/xds/xds-descriptor.test.ts. It builds protobufjs reflection of ~2500 types and compiles code for
 * each type it meets: far too slow for a sandbox's start, and no module of the run-time path may import it.
 */
import protobuf from 'protobufjs';
import { envoyApiJson } from './api-schema.ts';
import type { ReferenceCodec } from './protobuf.ts';

export function protobufjsCodec(): ReferenceCodec {
	const root = protobuf.Root.fromJSON(envoyApiJson() as protobuf.INamespace);
	return {
		encode(fullName, object) {
			const type = root.lookupType(fullName);
			return type.encode(type.fromObject(object)).finish();
		},
		decode(fullName, bytes) {
			const type = root.lookupType(fullName);
			return type.toObject(type.decode(bytes), { longs: String, enums: String, defaults: false });
		},
	};
}
