/**
 * What a running Envoy uses: its resident memory and the CPU time it has spent, read from the process
 * (/proc/<pid>/status and /proc/<pid>/stat, Linux) or the container's statistics (docker). `meshbox measure`
 * (src/measure) samples it over a run; it needs an Envoy of its own (a dedicated one), since a warm Envoy's
 * figures are those of every sandbox it serves.
 */
import { readFile } from 'node:fs/promises';
import { MeshboxError } from '../errors.ts';
import { procStatFields } from '../util/proc-stat.ts';

export type EnvoyUsage = {
	/** Resident memory in bytes (docker: the container's memory usage, page cache excluded). */
	readonly memoryBytes: number;
	/** CPU time (user + system) spent since the start, in microseconds. */
	readonly cpuMicros: number;
};

/** Clock ticks per second for /proc/<pid>/stat's utime and stime: USER_HZ, 100 on every Linux ABI Envoy runs on. */
const userHz = 100;

/** Reads a local process's usage from /proc (Linux only; a clear error elsewhere). */
export async function processUsage(pid: number): Promise<EnvoyUsage> {
	let status: string;
	let stat: string;
	try {
		[status, stat] = await Promise.all([readFile(`/proc/${pid}/status`, 'utf8'), readFile(`/proc/${pid}/stat`, 'utf8')]);
	} catch (error) {
		throw new MeshboxError('MEASURE_UNSUPPORTED', `cannot read Envoy's usage from /proc/${pid}: ${(error as Error).message}`,
			'meshbox measure reads /proc on Linux (local runtime) or the container statistics (--runtime docker)');
	}

	const rss = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status);
	const fields = procStatFields(stat);
	// utime and stime are fields 14 and 15 of the stat line: 11 and 12 here (the first field here is the 3rd).
	const ticks = Number(fields[11]) + Number(fields[12]);
	if (!rss || !Number.isFinite(ticks)) {
		throw new MeshboxError('MEASURE_UNSUPPORTED', `cannot read Envoy's usage from /proc/${pid}: unexpected format`, 'report this with your kernel version');
	}

	return { memoryBytes: Number(rss[1]) * 1024, cpuMicros: ticks * (1_000_000 / userHz) };
}

type ContainerStats = {
	readonly memory_stats?: { readonly usage?: number; readonly stats?: Readonly<Record<string, number>> };
	readonly cpu_stats?: { readonly cpu_usage?: { readonly total_usage?: number } };
};

/**
 * The one member of a Docker client (dockerode's `Docker`) containerUsage() uses. Structural, so that this
 * module's declarations, which the public entry point reaches through EnvoyUsage, name no dockerode type and a
 * user's `tsc` needs no @types/dockerode (issue #24: public types without dockerode).
 */
export type ContainerStatsClient = {
	getContainer(id: string): { stats(options: { stream: false }): Promise<unknown> };
};

/**
 * A container's usage from the daemon's statistics (one sample, not a stream): memory as `docker stats` shows
 * it (usage minus inactive file cache, cgroup v2 `inactive_file` or v1 `total_inactive_file`), CPU from
 * `cpu_usage.total_usage` (nanoseconds).
 */
export async function containerUsage(docker: ContainerStatsClient, id: string): Promise<EnvoyUsage> {
	// 'one-shot' (Docker API ≥ 1.41) skips the second sample `stream: false` otherwise waits for; dockerode passes it on.
	const stats = await docker.getContainer(id).stats({ stream: false, 'one-shot': true } as { stream: false }) as ContainerStats;
	const usage = stats.memory_stats?.usage ?? 0;
	const inactive = stats.memory_stats?.stats?.inactive_file ?? stats.memory_stats?.stats?.total_inactive_file ?? 0;
	return { memoryBytes: Math.max(0, usage - inactive), cpuMicros: (stats.cpu_stats?.cpu_usage?.total_usage ?? 0) / 1000 };
}
