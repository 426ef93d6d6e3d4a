import { startSandbox } from './src/index.ts';
const port = 18765;
const spec = { fresh: true, port, plugins: [{ name: 'seed', wasm: 'fixtures/plugins/seed-rust/seed-rust.wasm' }] };
try { const box = await startSandbox(spec); console.log(process.pid, 'started', box.url); await new Promise(r => setTimeout(r, 1500)); await box.stop(); } catch (e) { console.log(process.pid, 'failed', (e as any).describe?.() ?? (e as Error).stack); }
