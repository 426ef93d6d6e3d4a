/**
 * security.istio.io PeerAuthentication, RequestAuthentication, AuthorizationPolicy: validated as Istio's webhook
 * does (pilot/pkg/config/validation/validation.go). STUB: reads the spec as written; the security helper replaces it.
 */
import type { AuthorizationPolicyResource, ConfigValidationContext, PeerAuthenticationResource, RequestAuthenticationResource } from '../config-resources.ts';
import { configResource, readEnvelope } from '../config-envelope.ts';
import type { AuthorizationPolicySpec, PeerAuthenticationSpec, RequestAuthenticationSpec } from './types.ts';

const group = 'security.istio.io';

export function validatePeerAuthentication(document: Readonly<Record<string, unknown>>, context: ConfigValidationContext): PeerAuthenticationResource | undefined {
	const envelope = readEnvelope(document, 'PeerAuthentication', context);
	return context.collector.hasErrors ? undefined : configResource('PeerAuthentication', group, envelope, envelope.spec as unknown as PeerAuthenticationSpec, context);
}

export function validateRequestAuthentication(document: Readonly<Record<string, unknown>>, context: ConfigValidationContext): RequestAuthenticationResource | undefined {
	const envelope = readEnvelope(document, 'RequestAuthentication', context);
	return context.collector.hasErrors ? undefined : configResource('RequestAuthentication', group, envelope, envelope.spec as unknown as RequestAuthenticationSpec, context);
}

export function validateAuthorizationPolicy(document: Readonly<Record<string, unknown>>, context: ConfigValidationContext): AuthorizationPolicyResource | undefined {
	const envelope = readEnvelope(document, 'AuthorizationPolicy', context);
	const spec = { action: 'ALLOW', ...envelope.spec } as unknown as AuthorizationPolicySpec;
	return context.collector.hasErrors ? undefined : configResource('AuthorizationPolicy', group, envelope, spec, context);
}
