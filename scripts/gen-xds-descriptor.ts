/**
 * `npm run gen:xds-descriptor`: writes src/xds/envoy-descriptor.generated.ts, the precompiled part of Envoy's API
 * a sandbox serves over xDS (see src/xds/descriptor.ts), cut from src/xds/envoy-api.generated.ts. Run it after
 * `npm run gen:envoy-api`, or when src/envoy-api/type-urls.ts names a new type; test/xds/xds-descriptor.test.ts
 * says when it is due. Takes a fraction of a second.
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { buildDescriptor } from '../src/xds/descriptor.ts';
import { descriptorModuleText } from '../src/xds/descriptor-module.ts';

const target = fileURLToPath(new URL('../src/xds/envoy-descriptor.generated.ts', import.meta.url));
const descriptor = buildDescriptor();
writeFileSync(target, descriptorModuleText(descriptor));
process.stdout.write(`wrote ${target} (${descriptor.source.module} ${descriptor.source.version})\n`);
