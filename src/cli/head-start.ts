/**
 * What bin/meshbox.js loads before anything else for `meshbox up`: the head start's launcher
 * (../runtime/local/head-start.ts, dist/cli/head-start.js once built), which imports node's modules and a few
 * pure ones only, so that Envoy starts a few ms after Node does.
 */
export { HeadStart } from '../runtime/local/head-start.ts';
