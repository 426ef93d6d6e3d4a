// For test/scenario/report.test.ts only: runs the deliberately failing scenarios here (never part of `npm test`).
export default {
	files: ['test/scenario/report-fixture/failing-story.ts'],
	extensions: { ts: 'module' },
	nodeArguments: ['--import=tsx', '--conditions=meshbox-source'],
	workerThreads: false,
	timeout: '2m',
};
