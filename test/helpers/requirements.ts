/**
 * What a test file needs from the machine that `npm install` cannot provide (a system package, a running
 * service), and the decision when it is missing: `npm test` on a fresh machine skips those tests with one line
 * saying what is missing and how to install it; with MESHBOX_STRICT=1 (CI, which installs everything) the
 * tests run and fail, so nothing is skipped silently. No ava here: child processes may import it.
 */
import { accessSync, constants } from 'node:fs';

export type SystemRequirement = {
	/** What the tests need, as a user would name it: "Debian's docker-registry (/usr/bin/docker-registry)". */
	readonly what: string;
	/** Which tests need it: "the Istio oci:// tests". */
	readonly neededBy: string;
	/** The command that installs (or starts) it. */
	readonly install: string;
	readonly present: boolean;
};

export type RequirementDecision =
	| { readonly run: true }
	| { readonly run: false; /** The one line `npm test` shows. */ readonly line: string; /** For the skipped tests' titles. */ readonly reason: string };

export function decideRequirement(requirement: SystemRequirement, env: NodeJS.ProcessEnv = process.env): RequirementDecision {
	if (requirement.present || env.MESHBOX_STRICT === '1') {
		return { run: true };
	}

	const reason = `${requirement.what} is missing; install it with: ${requirement.install}`;
	return {
		run: false,
		reason,
		line: `meshbox tests: skipping ${requirement.neededBy}: ${reason} (MESHBOX_STRICT=1 makes that a failure)`,
	};
}

/** Whether `file` exists and may be run by this user. */
export function isExecutable(file: string): boolean {
	try {
		accessSync(file, constants.X_OK);
		return true;
	} catch {
		return false;
	}
}
