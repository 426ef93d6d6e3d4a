/**
 * Reading Istio resources as Kubernetes does. `kubectl apply` turns YAML into JSON with sigs.k8s.io/yaml
 * (`YAMLToJSON`), which decodes with go-yaml v2 (go.yaml.in/yaml/v2, a YAML 1.1 reader) into `interface{}` and
 * marshals that with encoding/json; the API server, istiod and the plugin's pluginConfig JSON all start there.
 * meshbox.yaml stays YAML 1.2; only Istio files are read this way.
 *
 * What go-yaml v2 does with plain (unquoted) scalars (resolve.go, decode.go on the v2 branch):
 * - booleans: y Y yes Yes YES on On ON true True TRUE, and n N no No NO off Off OFF false False FALSE;
 * - null: empty, ~, null, Null, NULL; floats .inf .Inf .INF (signed) and .nan .NaN .NAN;
 * - numbers: for a scalar starting with a digit or a sign, every `_` is removed, then Go's
 *   `strconv.ParseInt(s, 0, 64)` (so 0755 is octal 493, 0x1F, 0b101 and 0o17 are numbers, 1_000 is 1000), then
 *   `ParseUint`, then a decimal float (`^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`); a scalar starting
 *   with `.` is a float when `ParseFloat` takes it as it is; no sexagesimal (1:20 stays a string);
 * - timestamps (2001-12-14, 2001-12-14T21:59:43Z, …) are recognised, but decoded into `interface{}` they are
 *   kept as the original string ("for backward compatibility", decode.go), so JSON gets the text as written;
 * - `<<` merge keys are applied; !!binary is base64-decoded into a string.
 * sigs.k8s.io/yaml (yaml.go convertToJSONableObject) then turns non-string map keys into strings (true, 493).
 */
import { type ParseOptions, type DocumentOptions, type SchemaOptions, type ScalarTag, type Tags } from 'yaml';

const tagPrefix = 'tag:yaml.org,2002:';

const int64 = { min: -(2n ** 63n), max: 2n ** 63n - 1n };
const uint64Max = 2n ** 64n - 1n;

/** strconv.ParseInt(s, 0, 64), then ParseUint(s, 0, 64): undefined when Go would not take it as an integer. */
function goInteger(plain: string): bigint | undefined {
	const match = /^([-+]?)(0[xX][0-9a-fA-F]+|0[bB][01]+|0[oO][0-7]+|0[0-7]*|[1-9][0-9]*)$/.exec(plain);
	if (!match) {
		return undefined;
	}

	const [, sign, body = ''] = match;
	// Base 0: a leading 0 alone means octal; BigInt reads the 0x/0b/0o prefixes (either case) itself.
	const magnitude = /^0[0-7]+$/.test(body) ? BigInt(`0o${body.slice(1)}`) : BigInt(body);
	const value = sign === '-' ? -magnitude : magnitude;
	if (value >= int64.min && value <= int64.max) {
		return value;
	}

	return sign === '' && value <= uint64Max ? value : undefined;
}

/** go-yaml v2 resolve(): the number a plain scalar starting with a digit, a sign or `.` becomes, if any. */
function goYamlNumber(text: string): number | undefined {
	if (text.startsWith('.')) {
		// ParseFloat on the text as it is (no `_` removal, no exponent-only forms).
		return /^\.[0-9]+(?:[eE][-+]?[0-9]+)?$/.test(text) ? Number(text) : undefined;
	}

	const plain = text.replaceAll('_', '');
	const integer = goInteger(plain);
	if (integer !== undefined) {
		return Number(integer);
	}

	if (/^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$/.test(plain)) {
		const value = Number(plain);
		// ParseFloat reports out-of-range values as an error: the scalar stays a string.
		return Number.isFinite(value) ? value : undefined;
	}

	return undefined;
}

/** Numbers as go-yaml v2 reads them; a scalar it would not take as a number stays the string it is. */
const goNumber: ScalarTag = {
	identify: value => typeof value === 'number',
	default: true,
	tag: `${tagPrefix}float`,
	test: /^[-+.0-9]/,
	resolve: text => goYamlNumber(text) ?? text,
};

/** !!binary → the decoded bytes as a string (go-yaml v2 decodes into a Go string). */
const binaryAsString: ScalarTag = {
	identify: () => false,
	default: false,
	tag: `${tagPrefix}binary`,
	resolve: text => Buffer.from(text.replaceAll(/\s/g, ''), 'base64').toString('utf8'),
};

/** The `yaml` package's YAML 1.1 tags, adjusted to what go-yaml v2 hands sigs.k8s.io/yaml. */
function kubernetesTags(tags: Tags): Tags {
	const kept = tags.filter(tag => {
		if (typeof tag === 'string') {
			return false;
		}

		const name = tag.tag.slice(tagPrefix.length);
		if (name === 'int' || name === 'timestamp' || name === 'binary' || name === 'omap' || name === 'pairs' || name === 'set') {
			// int: replaced by goNumber; timestamp: kept as text; omap/pairs/set: go-yaml v2 has no such types.
			return false;
		}

		// The NaN/Inf float stays (its test only takes .inf/.nan); the other floats give way to goNumber.
		return name !== 'float' || (tag as ScalarTag).test?.test('.nan') === true;
	});
	return [...kept, goNumber, binaryAsString];
}

/** Options for `parseAllDocuments` / `parseDocument` that read YAML as `kubectl apply` does. */
export const kubernetesYaml: ParseOptions & DocumentOptions & SchemaOptions = {
	version: '1.1',
	merge: true,
	customTags: kubernetesTags,
};
