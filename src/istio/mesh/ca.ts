/**
 * The mesh's certificate authority: istiod's CA role for the emulated mesh.
 *
 * What it issues follows istiod's self-signed CA (istio/istio 1.29.6):
 * - the root: security/pkg/pki/ca/ca.go `NewSelfSignedIstioCAOptions` → util.GenCertKeyFromOptions with
 *   `IsCA: true, IsSelfSigned: true, Org: <trust domain>`, 10 years (`CITADEL_SELF_SIGNED_CA_CERT_TTL`); the
 *   template is security/pkg/pki/util/generate_cert.go `genCertTemplateFromOptions`: subject `O=<trust domain>`,
 *   key usage certSign, basic constraints CA. Go's x509 adds the subject key id of a CA and marks key usage and
 *   basic constraints critical; so does this.
 * - a workload's leaf: what istiod signs for istio-agent's CSR (ca.go `sign` → util.GenCertFromCSR →
 *   `genCertTemplateFromCSR`): empty subject, the identity only in a URI SAN `spiffe://<td>/ns/<ns>/sa/<sa>`
 *   (pkg/spiffe/spiffe.go), critical because the subject is empty (util/san.go BuildSubjectAltNameExtension),
 *   key usage digitalSignature + keyEncipherment, extended key usage serverAuth + clientAuth, 24 h
 *   (`DEFAULT_WORKLOAD_CERT_TTL`), valid from 2 minutes before now, the authority key id of the root.
 *
 * Keys are ECDSA P-256 (istio-agent's `ECC_SIGNATURE_ALGORITHM=ECDSA`; istiod's default root and istio-agent's
 * default workload key are RSA 2048): generating an RSA key costs tens of milliseconds, an EC key well under one,
 * and a mesh issues one certificate per proxy at every start. Istio's TLS contexts allow ECDSA (the ECDHE-ECDSA
 * ciphers of pilot/pkg/security/authn/utils/utils.go SupportedCiphers).
 *
 * Certificates are built by @peculiar/x509 on node:crypto's WebCrypto: no hand-written ASN.1.
 */
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import type { ProxySecretModel } from '../../config/model.ts';
import { MeshboxError } from '../../errors.ts';
import { rootSecretName, workloadSecretName } from './tls.ts';

x509.cryptoProvider.set(webcrypto);

/** istiod's default trust domain (meshConfig.trustDomain). */
export const defaultTrustDomain = 'cluster.local';


const keyAlgorithm: webcrypto.EcKeyGenParams = { name: 'ECDSA', namedCurve: 'P-256' };
const signingAlgorithm: webcrypto.EcdsaParams = { name: 'ECDSA', hash: 'SHA-256' };
const hourMs = 60 * 60 * 1000;
/** DEFAULT_WORKLOAD_CERT_TTL (pkg/security/security.go): 24 h. */
const workloadTtlMs = 24 * hourMs;
/** CITADEL_SELF_SIGNED_CA_CERT_TTL (pilot/pkg/bootstrap/istio_ca.go): 10 years. */
const rootTtlMs = 3650 * 24 * hourMs;
/**
 * A leaf's notBefore is now minus istiod's ClockSkewGracePeriod (security/pkg/pki/util/generate_cert.go: 2 min),
 * so a peer whose clock is a little behind (Envoy in a container) does not find it "not yet valid". The root too:
 * this process and Envoy read clocks independently.
 */
const backdateMs = 2 * 60 * 1000;

/** A certificate with its private key, PEM text (`-----BEGIN CERTIFICATE-----`, PKCS#8 `-----BEGIN PRIVATE KEY-----`). */
export type IssuedCertificate = {
	readonly certificateChain: string;
	readonly privateKey: string;
	/** The root that signed it (PEM): what a peer trusts. */
	readonly rootCertificate: string;
};

export type WorkloadIdentity = { readonly namespace: string; readonly serviceAccount: string };

/** `spiffe://<td>/ns/<ns>/sa/<sa>`: pkg/spiffe/spiffe.go (Identity.String). */
export function spiffeId(trustDomain: string, identity: WorkloadIdentity): string {
	return `spiffe://${trustDomain}/ns/${identity.namespace}/sa/${identity.serviceAccount}`;
}

/** Kubernetes names (RFC 1123 labels / subdomains): what a namespace and a service account may be called. */
const kubeName = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

export class MeshCa {
	/** Issued leaves by identity: a mesh resolved again (applyIstio, `up --watch`) serves the same secrets, so SDS sends nothing new. */
	private readonly workloads = new Map<string, CachedCertificate>();
	private readonly servers = new Map<string, CachedCertificate>();

	private constructor(
		readonly trustDomain: string,
		private readonly root: x509.X509Certificate,
		private readonly rootKeys: webcrypto.CryptoKeyPair,
		/** The root's key id, in every leaf: computed once (it hashes the root's public key). */
		private readonly authorityKeyId: x509.AuthorityKeyIdentifierExtension,
		/** The root as PEM: the trust bundle (`ROOTCA`). */
		readonly rootCertificate: string,
	) {}

	/** A new self-signed root for `trustDomain` (istiod's self-signed CA at its first start). */
	static async create({ trustDomain = defaultTrustDomain }: { trustDomain?: string } = {}): Promise<MeshCa> {
		if (!/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/i.test(trustDomain)) {
			throw new MeshboxError('CONFIG_INVALID', `trust domain "${trustDomain}" is not a DNS name`, 'use a trust domain such as cluster.local (meshConfig.trustDomain)');
		}

		const keys = await webcrypto.subtle.generateKey(keyAlgorithm, true, ['sign', 'verify']) as webcrypto.CryptoKeyPair;
		const now = Date.now();
		const root = await x509.X509CertificateGenerator.createSelfSigned({
			serialNumber: serialNumber(),
			name: [{ O: [trustDomain] }],
			notBefore: new Date(now - backdateMs),
			notAfter: new Date(now + rootTtlMs),
			keys,
			signingAlgorithm,
			extensions: [
				new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign, true),
				new x509.BasicConstraintsExtension(true, undefined, true),
				await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
			],
		});
		return new MeshCa(trustDomain, root, keys, await x509.AuthorityKeyIdentifierExtension.create(keys.publicKey), root.toString('pem'));
	}

	/**
	 * One CA per trust domain in this process: every mesh a test file or `meshbox up` starts trusts the same root,
	 * and a workload keeps its certificate across restarts of its mesh (a warm Envoy is handed the same secrets).
	 */
	static shared(trustDomain = defaultTrustDomain): Promise<MeshCa> {
		let ca = sharedCas.get(trustDomain);
		if (!ca) {
			ca = MeshCa.create({ trustDomain });
			// A failure is not cached: the next call tries again.
			ca.catch(() => sharedCas.delete(trustDomain));
			sharedCas.set(trustDomain, ca);
		}

		return ca;
	}

	/** A workload's certificate, as istiod signs istio-agent's CSR: the SPIFFE id in a critical URI SAN, nothing else. */
	issueWorkload(identity: WorkloadIdentity): Promise<IssuedCertificate> {
		for (const [field, value] of [['namespace', identity.namespace], ['serviceAccount', identity.serviceAccount]] as const) {
			if (!kubeName.test(value)) {
				throw new MeshboxError('CONFIG_INVALID', `${field} "${value}" is not a Kubernetes name`, 'use lower-case letters, digits, "-" and "." (RFC 1123), as in the workload\'s namespace and service account');
			}
		}

		const id = spiffeId(this.trustDomain, identity);
		return memo(this.workloads, id, () => this.issue({
			subject: [],
			// Critical: the subject is empty (RFC 5280 §4.2.1.6; istio util/san.go).
			san: new x509.SubjectAlternativeNameExtension([{ type: 'url', value: id }], true),
		}));
	}

	/**
	 * A server certificate for names a gateway serves (an Istio Gateway HTTPS server whose `credentialName` the mesh
	 * spec gives no certificate for): DNS SANs, the first name also as CN (what clients such as curl show).
	 */
	issueServer({ dnsNames }: { dnsNames: readonly string[] }): Promise<IssuedCertificate> {
		if (dnsNames.length === 0 || dnsNames.some(name => !/^(\*\.)?[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/i.test(name))) {
			throw new MeshboxError('CONFIG_INVALID', `a server certificate needs DNS names; got ${JSON.stringify(dnsNames)}`, 'give the Gateway server\'s hosts (e.g. my-app.example.com or *.example.com)');
		}

		return memo(this.servers, dnsNames.join(','), () => this.issue({
			subject: [{ CN: [dnsNames[0]!] }],
			san: new x509.SubjectAlternativeNameExtension(dnsNames.map(value => ({ type: 'dns', value })), false),
		}));
	}

	private async issue({ subject, san }: { subject: x509.JsonName; san: x509.SubjectAlternativeNameExtension }): Promise<IssuedCertificate> {
		const keys = await webcrypto.subtle.generateKey(keyAlgorithm, true, ['sign', 'verify']) as webcrypto.CryptoKeyPair;
		const now = Date.now();
		const certificate = await x509.X509CertificateGenerator.create({
			serialNumber: serialNumber(),
			subject,
			issuer: this.root.subject,
			notBefore: new Date(now - backdateMs),
			notAfter: new Date(now + workloadTtlMs),
			publicKey: keys.publicKey,
			signingKey: this.rootKeys.privateKey,
			signingAlgorithm,
			extensions: [
				new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
				new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
				new x509.BasicConstraintsExtension(false, undefined, true),
				this.authorityKeyId,
				san,
			],
		});
		const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey);
		return { certificateChain: certificate.toString('pem'), privateKey: pem('PRIVATE KEY', pkcs8), rootCertificate: this.rootCertificate };
	}
}

const sharedCas = new Map<string, Promise<MeshCa>>();

/**
 * The SDS secrets istio-agent serves a workload's Envoy (security/pkg/nodeagent/sds/sdsservice.go): `default`,
 * its certificate and key, and `ROOTCA`, the mesh's trust bundle.
 */
export async function workloadSecrets(ca: MeshCa, namespace: string, serviceAccount: string): Promise<ProxySecretModel[]> {
	const issued = await ca.issueWorkload({ namespace, serviceAccount });
	return [
		{ name: workloadSecretName, certificateChain: issued.certificateChain, privateKey: issued.privateKey },
		{ name: rootSecretName, trustedCa: ca.rootCertificate },
	];
}

/** An issued certificate, and when to issue it again. */
type CachedCertificate = { readonly issued: Promise<IssuedCertificate>; readonly renewAt: number };

/**
 * istio-agent asks for a new certificate once half its lifetime passed (SECRET_GRACE_PERIOD_RATIO 0.5,
 * security/pkg/nodeagent/cache/secretcache.go rotateTime): so does a cached one, so a process that lives longer
 * than a day (`meshbox up`) never serves an expired certificate when it resolves its mesh again.
 */
const renewAfterMs = workloadTtlMs / 2;

function memo(cache: Map<string, CachedCertificate>, key: string, make: () => Promise<IssuedCertificate>): Promise<IssuedCertificate> {
	const cached = cache.get(key);
	if (cached && Date.now() < cached.renewAt) {
		return cached.issued;
	}

	const issued = make();
	// A failure is not cached: the next call tries again.
	issued.catch(() => {
		if (cache.get(key)?.issued === issued) {
			cache.delete(key);
		}
	});
	cache.set(key, { issued, renewAt: Date.now() + renewAfterMs });
	return issued;
}

/** A positive 128-bit serial number, as istiod's genSerialNum (hex; the top bit clear so DER needs no sign byte). */
function serialNumber(): string {
	const bytes = webcrypto.getRandomValues(new Uint8Array(16));
	bytes[0] = (bytes[0]! & 0x7f) | 0x01;
	return Buffer.from(bytes).toString('hex');
}

function pem(label: string, der: ArrayBuffer): string {
	const lines = Buffer.from(der).toString('base64').match(/.{1,64}/g) ?? [];
	return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}
