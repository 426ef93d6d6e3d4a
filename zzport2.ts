import { startSandbox } from './src/index.ts';
const port = 18766;
const spec = { fresh: true, port, plugins: [{ name: 'seed', wasm: 'fixtures/plugins/seed-rust/seed-rust.wasm' }] };
const a = await startSandbox(spec);
try { const b = await startSandbox(spec); console.log('b on', b.url); await b.stop(); } catch (e) { console.log((e as any).describe?.() ?? e); }
await a.stop();
