/**
 * What bin/meshbox.js loads before anything else for `meshbox up`: the head start's launcher
 * (../runtime/local/head-start.ts), built by `npm run build:cli` into a file of its own
 * (CommonJS, dist/cli/head-start.cjs) that needs nothing but node's modules, so that Envoy starts a few ms after Node does.
 */
export { HeadStart } from '../runtime/local/head-start.ts';
