// For test/scenario/conformance-report.test.ts only: a conformance cell that fails on purpose (never part of `npm test`).
export default {
	files: ['test/scenario/report-fixture/conformance-failure.ts'],
	extensions: { ts: 'module' },
	nodeArguments: ['--import=tsx', '--conditions=meshbox-source'],
	workerThreads: false,
	timeout: '2m',
};
