// For test/scenario/report.test.ts only: runs passing scenarios whose titles are paths (never part of `npm test`).
export default {
	files: ['test/scenario/report-fixture/path-titles.ts'],
	extensions: { ts: 'module' },
	nodeArguments: ['--import=tsx', '--conditions=meshbox-source'],
	workerThreads: false,
	timeout: '2m',
};
