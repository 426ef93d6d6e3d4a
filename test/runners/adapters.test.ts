/**
 * The runner adapters' bad input (issue #24): jestTest() outside a jest test, and stories() given a runner
 * whose tests have a context meshbox does not know, fail with a USAGE error that says what to do, before any
 * sandbox starts. (The adapters at work, on real vitest and jest: test/package/*-consumer.test.ts.)
 */
import test from 'ava';
import { isMeshboxError, jestTest, stories } from '../../src/index.ts';

test('jestTest() outside a jest test: a USAGE error naming jest\'s test(title, jestTest(…)), and the implementation never runs', async t => {
	let ran = false;
	const error = await t.throwsAsync(jestTest(() => {
		ran = true;
	})());
	t.true(isMeshboxError(error) && error.code === 'USAGE', String(error));
	t.regex(error?.message ?? '', /jestTest\(\): no current jest test/);
	t.regex(isMeshboxError(error) ? error.hint ?? '' : '', /test\(title, jestTest\(async t => …\)\)/);
	t.false(ran);
});

test('stories() with a runner whose context it does not know: a USAGE error pointing to jestStories() and sandboxFor()', async t => {
	const previous = process.env.MESHBOX_RUNTIMES;
	process.env.MESHBOX_RUNTIMES = 'local';
	t.teardown(() => {
		process.env.MESHBOX_RUNTIMES = previous;
	});
	const declared: Array<() => Promise<void>> = [];
	const story = await stories<object>((_title, implementation) => {
		declared.push(async () => implementation({}));
	});
	// The context is adapted when the story asks for a sandbox: the error comes before any start.
	story('a story', async (_t, { sandbox }) => {
		await sandbox();
	});
	t.is(declared.length, 1);
	const error = await t.throwsAsync(declared[0]!());
	t.true(isMeshboxError(error) && error.code === 'USAGE', String(error));
	t.regex(error?.message ?? '', /vitest/);
	t.regex(isMeshboxError(error) ? error.hint ?? '' : '', /jestStories\(test\)/);
});
