/** JSON-shaped data: Envoy config, node metadata, anything meshbox renders as YAML or JSON. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };
