/**
 * The one error type meshbox raises for problems a user can fix.
 *
 * Every MeshboxError says what went wrong (`message`, one line, naming the file, line and field where
 * there is one) and what to do about it (`hint`). The CLI prints exactly these two things; tests assert on
 * `code` so that wording can improve without breaking them.
 */
export type MeshboxErrorCode =
	| 'CONFIG_INVALID'
	| 'CONFIG_NOT_FOUND'
	| 'PLUGIN_NOT_FOUND'
	| 'PLUGIN_EMPTY'
	| 'PLUGIN_NOT_WASM'
	| 'PLUGIN_INVALID_WASM'
	| 'PLUGIN_NO_ABI'
	| 'PORT_IN_USE'
	| 'ENVOY_NOT_FOUND'
	| 'ENVOY_INSTALL_FAILED'
	| 'ENVOY_VERSION_UNAVAILABLE'
	| 'ENVOY_VERSION_MISMATCH'
	| 'LOCK_TIMEOUT'
	| 'ENVOY_REJECTED_CONFIG'
	| 'ENVOY_START_FAILED'
	| 'ENVOY_EXITED'
	| 'ENVOY_RESET_STREAM'
	/** A change (update, swapPlugin, rollback, applyIstio) asked of a sandbox after its stop(). */
	| 'SANDBOX_STOPPED'
	| 'REQUEST_TIMEOUT'
	| 'PLUGIN_STUCK'
	| 'DOCKER_UNAVAILABLE'
	| 'DOCKER_IMAGE_UNAVAILABLE'
	| 'DOCKER_FAILED'
	| 'TCP_FAILED'
	| 'USAGE'
	| 'MEASURE_UNSUPPORTED'
	| 'BUDGET_EXCEEDED';

export class MeshboxError extends Error {
	override readonly name = 'MeshboxError';

	constructor(
		readonly code: MeshboxErrorCode,
		message: string,
		/** What the user can do about it. */
		readonly hint?: string,
		/** Extra lines worth showing (for example Envoy's own output). */
		readonly details?: readonly string[],
	) {
		super(message);
	}

	/** The text the CLI prints: the message, then the hint. */
	describe(): string {
		const lines = [this.message];
		if (this.details && this.details.length > 0) {
			lines.push(...this.details.map(line => `  ${line}`));
		}

		if (this.hint) {
			lines.push(`→ ${this.hint}`);
		}

		return lines.join('\n');
	}
}

export function isMeshboxError(error: unknown): error is MeshboxError {
	return error instanceof MeshboxError;
}
