/**
 * The one place meshbox imports testcontainers from, so that ./ryuk-off.ts is always evaluated first
 * (ES modules evaluate their imports in order).
 */
import './ryuk-off.ts';

export { GenericContainer, getContainerRuntimeClient, ImageName } from 'testcontainers';
export type { ContainerRuntimeClient, StartedTestContainer, WaitStrategy, BoundPorts } from 'testcontainers';
