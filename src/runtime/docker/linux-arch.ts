/**
 * The Linux architectures meshbox can build images for from registry packages, with each registry's name for
 * them (Docker's `Architecture` in `docker info` is the kernel's name: x86_64, aarch64).
 */
export type LinuxArch = 'amd64' | 'arm64';

export type ArchNames = {
	/** Docker / Debian / OCI name. */
	readonly debian: LinuxArch;
	/** The manylinux platform tag's machine (PyPI wheels). */
	readonly wheel: 'x86_64' | 'aarch64';
	/** The npm-published Linux Node build: `node-linux-<npm>`. */
	readonly npm: 'x64' | 'arm64';
	/** The directory of the GNU triplet Debian puts libraries in. */
	readonly triplet: 'x86_64-linux-gnu' | 'aarch64-linux-gnu';
};

export const archNames: Readonly<Record<LinuxArch, ArchNames>> = {
	amd64: { debian: 'amd64', wheel: 'x86_64', npm: 'x64', triplet: 'x86_64-linux-gnu' },
	arm64: { debian: 'arm64', wheel: 'aarch64', npm: 'arm64', triplet: 'aarch64-linux-gnu' },
};

/** Docker's (the kernel's) or Node's name of an architecture, as meshbox's; undefined when it builds none for it. */
export function linuxArch(name: string): LinuxArch | undefined {
	switch (name) {
		case 'x86_64':
		case 'amd64':
		case 'x64': {
			return 'amd64';
		}

		case 'aarch64':
		case 'arm64': {
			return 'arm64';
		}

		default: {
			return undefined;
		}
	}
}
