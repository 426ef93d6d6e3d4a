/**
 * gateway.networking.k8s.io Gateway and HTTPRoute (gatewayClassName `istio`). STUB: reads the spec as written;
 * the Gateway API helper replaces it (validation, and conversion to what istiod builds from them).
 */
import type { ConfigValidationContext, HttpRouteResource, KubeGatewayResource } from '../config-resources.ts';
import { configResource, readEnvelope } from '../config-envelope.ts';
import type { HttpRouteSpec, KubeGatewaySpec } from './types.ts';

const group = 'gateway.networking.k8s.io';

export function validateKubeGateway(document: Readonly<Record<string, unknown>>, context: ConfigValidationContext): KubeGatewayResource | undefined {
	const envelope = readEnvelope(document, 'Gateway', context);
	return context.collector.hasErrors ? undefined : configResource('KubeGateway', group, envelope, envelope.spec as unknown as KubeGatewaySpec, context);
}

export function validateHttpRoute(document: Readonly<Record<string, unknown>>, context: ConfigValidationContext): HttpRouteResource | undefined {
	const envelope = readEnvelope(document, 'HTTPRoute', context);
	return context.collector.hasErrors ? undefined : configResource('HTTPRoute', group, envelope, envelope.spec as unknown as HttpRouteSpec, context);
}
