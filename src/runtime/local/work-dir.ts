/**
 * A local sandbox's work dir: `<tmp>/meshbox-XXXXXX`, holding its bootstrap and staged modules, and an
 * `owner.json` naming the process that owns it and, once spawned, its Envoy. ./reaper.ts removes the dirs (and
 * kills the Envoys) of owners that died, so the owner file is written as the dir is made: a dir without one is
 * only ever a start killed in between.
 *
 * Node's modules only: the head start (./head-start.ts) makes one before the rest of meshbox has loaded.
 */
import { mkdtempSync, renameSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const workDirPrefix = 'meshbox-';
/** A work dir's name: the prefix and mkdtemp's six characters (other `meshbox-*` dirs, e.g. tests' scratch dirs, are named otherwise). */
export const workDirName = /^meshbox-\w{6}$/;

export type Owner = { readonly ownerPid: number; readonly envoyPid?: number };

/** Makes a work dir owned by this process. */
export function makeWorkDir(): string {
	const workDir = mkdtempSync(path.join(os.tmpdir(), workDirPrefix));
	writeOwner(workDir, { ownerPid: process.pid });
	return workDir;
}

/** Says who owns `workDir` (and its Envoy): written aside and renamed, so a reader never sees half a file. */
export function writeOwner(workDir: string, owner: Owner): void {
	const file = path.join(workDir, 'owner.json');
	writeFileSync(`${file}.partial`, JSON.stringify(owner));
	renameSync(`${file}.partial`, file);
}
