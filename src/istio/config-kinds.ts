/**
 * The one list of configuration kinds a mesh applies (./config-resources.ts), so that ./parse.ts dispatches
 * without knowing them: each kind's served API versions (the CRDs of the emulated releases) and its validator.
 */
import type { ConfigValidator } from './config-resources.ts';
import { validateKubeGateway, validateHttpRoute } from './networking/gateway-api.ts';
import { validateDestinationRule, validateGateway, validateServiceEntry, validateVirtualService } from './networking/validate.ts';
import { validateAuthorizationPolicy, validatePeerAuthentication, validateRequestAuthentication } from './security/validate.ts';

type KindEntry = { readonly versions: readonly string[]; readonly validate: ConfigValidator };

/** group → kind → the API versions served and the validator (the CRDs of the emulated releases). */
export const configKinds: Readonly<Record<string, Readonly<Record<string, KindEntry>>>> = {
	'networking.istio.io': {
		Gateway: { versions: ['v1', 'v1beta1', 'v1alpha3'], validate: validateGateway },
		VirtualService: { versions: ['v1', 'v1beta1', 'v1alpha3'], validate: validateVirtualService },
		DestinationRule: { versions: ['v1', 'v1beta1', 'v1alpha3'], validate: validateDestinationRule },
		ServiceEntry: { versions: ['v1', 'v1beta1', 'v1alpha3'], validate: validateServiceEntry },
	},
	'security.istio.io': {
		PeerAuthentication: { versions: ['v1', 'v1beta1'], validate: validatePeerAuthentication },
		RequestAuthentication: { versions: ['v1', 'v1beta1'], validate: validateRequestAuthentication },
		AuthorizationPolicy: { versions: ['v1', 'v1beta1'], validate: validateAuthorizationPolicy },
	},
	'gateway.networking.k8s.io': {
		Gateway: { versions: ['v1', 'v1beta1'], validate: validateKubeGateway },
		HTTPRoute: { versions: ['v1', 'v1beta1'], validate: validateHttpRoute },
	},
};

