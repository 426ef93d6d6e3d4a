/**
 * ava's `test` for the tests that need a Docker daemon (kept apart from ./docker-helpers.ts, which child
 * processes import: ava refuses to be imported outside its CLI).
 */
import type { TestFn } from 'ava';
import { dockerAnswers } from '../../src/runtime/docker/daemon.ts';
import { decideRequirement } from '../helpers/requirements.ts';
import { requirementTest } from '../helpers/skip.ts';

/**
 * ava's `test` when a Docker daemon answers or MESHBOX_STRICT=1 (then a missing daemon fails the tests with
 * DOCKER_UNAVAILABLE); otherwise a `test` that registers each test as skipped and its hooks not at all, so
 * `npm test` on a machine without Docker says what it skipped and how to get Docker instead of failing.
 */
export async function dockerTest(): Promise<TestFn> {
	return requirementTest(decideRequirement({
		what: 'a Docker daemon that answers',
		neededBy: 'the docker runtime tests',
		install: 'sudo bash scripts/ci-docker.sh (installs docker.io, starts dockerd, builds meshbox\'s images)',
		// Under MESHBOX_STRICT=1 the tests run either way: no need to ask the daemon.
		present: process.env.MESHBOX_STRICT === '1' || await dockerAnswers(),
	}));
}
