import type { Config } from '../config/schema.js';
import { type CompiledRouting, compileRouting } from './config.js';

/**
 * The routing section compiled with the tier models of the loaded configuration, which already
 * merged ANTHROPIC_*_MODEL from the environment and `.env`.
 */
export function routingFor(config: Config): CompiledRouting {
  return compileRouting(config.routing, {
    ANTHROPIC_DEFAULT_MODEL: config.models.default,
    ANTHROPIC_REASONING_MODEL: config.models.reasoning,
    ANTHROPIC_CRITICAL_MODEL: config.models.critical,
  });
}
