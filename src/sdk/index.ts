/**
 * Sluice as a library: the same parts the `sluice` command uses, for embedding the gateway or
 * the simulator in a program or a test suite.
 */
export { Catalog, defaultCatalog } from '../catalog/catalog.js';
export { type Cost, costOf } from '../catalog/cost.js';
export { ConfigError, loadConfig } from '../config/load.js';
export { type Gateway, type GatewayOptions, startGateway } from '../server/gateway.js';
export { gatewayPlugins } from '../server/plugins.js';
export { type Simulator, type SimulatorOptions, startSimulator } from '../simulator/index.js';
