// For test/foundation/report.test.ts only: runs passing scenarios whose titles are paths (never part of `npm test`).
export default {
	files: ['test/foundation/report-fixture/path-titles.ts'],
	extensions: { ts: 'module' },
	nodeArguments: ['--import=tsx', '--conditions=meshbox-source'],
	workerThreads: false,
	timeout: '2m',
};
