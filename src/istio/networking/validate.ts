/**
 * networking.istio.io Gateway, VirtualService, DestinationRule, ServiceEntry: validated as Istio's webhook does
 * (pilot/pkg/config/validation/validation.go). STUB: reads the spec as written; the networking helper replaces it.
 */
import type { ConfigValidationContext, DestinationRuleResource, GatewayResource, ServiceEntryResource, VirtualServiceResource } from '../config-resources.ts';
import { configResource, readEnvelope } from '../config-envelope.ts';
import type { DestinationRuleSpec, GatewaySpec, ServiceEntrySpec, VirtualServiceSpec } from './types.ts';

const group = 'networking.istio.io';

export function validateGateway(document: Readonly<Record<string, unknown>>, context: ConfigValidationContext): GatewayResource | undefined {
	const envelope = readEnvelope(document, 'Gateway', context);
	return context.collector.hasErrors ? undefined : configResource('Gateway', group, envelope, envelope.spec as unknown as GatewaySpec, context);
}

export function validateVirtualService(document: Readonly<Record<string, unknown>>, context: ConfigValidationContext): VirtualServiceResource | undefined {
	const envelope = readEnvelope(document, 'VirtualService', context);
	return context.collector.hasErrors ? undefined : configResource('VirtualService', group, envelope, envelope.spec as unknown as VirtualServiceSpec, context);
}

export function validateDestinationRule(document: Readonly<Record<string, unknown>>, context: ConfigValidationContext): DestinationRuleResource | undefined {
	const envelope = readEnvelope(document, 'DestinationRule', context);
	return context.collector.hasErrors ? undefined : configResource('DestinationRule', group, envelope, envelope.spec as unknown as DestinationRuleSpec, context);
}

export function validateServiceEntry(document: Readonly<Record<string, unknown>>, context: ConfigValidationContext): ServiceEntryResource | undefined {
	const envelope = readEnvelope(document, 'ServiceEntry', context);
	return context.collector.hasErrors ? undefined : configResource('ServiceEntry', group, envelope, envelope.spec as unknown as ServiceEntrySpec, context);
}
