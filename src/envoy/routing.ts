/**
 * Renders RoutingModel (src/config/routing.ts): route configuration, other HTTP filters around the plugins,
 * the apps' clusters, stats_config.
 *
 * STUB: owned by the engineer building issue #10 part A.
 */
export {};
