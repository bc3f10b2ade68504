/**
 * Kept only for test/driver/configAgreement.test.ts (the driver's side, not part of this package's API): the
 * renderers live in manager/runnerConfig.ts. Remove this file when the fargate.toml contract moves into the module
 * both the component and the driver import.
 */
export { renderFargateToml } from "./manager/runnerConfig";
export type { FargateConfigInput } from "./manager/runnerConfig";
