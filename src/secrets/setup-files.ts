/**
 * What `sluice init` writes. The `.env.example` is the seed article's configuration template with
 * placeholders in place of values (the scanner knows them as placeholders), plus Sluice's own
 * variables. Real values go in `.env`, which the `.gitignore` entries keep out of commits.
 */
import { defaultCatalog } from '../catalog/catalog.js';

// The catalog's current models, so a new project starts on today's line-up.
const current = defaultCatalog().routingDefaults;

export const ENV_EXAMPLE = `# Anthropic integration configuration (example values only).
# Copy to .env and fill in real values there: .env is ignored by git, this file is not.
# \`sluice doctor\` checks the result.

# Authentication: an Anthropic API key (Console > Settings > API Keys).
ANTHROPIC_AUTH_TOKEN=sk-ant-api03-<REPLACE_WITH_KEY>

# One key per environment (Dev, Staging, Prod, CI), named in sluice.yaml under environments.
ANTHROPIC_KEY_DEVELOPMENT=sk-ant-api03-<REPLACE_WITH_KEY>
ANTHROPIC_KEY_PRODUCTION=sk-ant-api03-<REPLACE_WITH_KEY>

# Model routing
ANTHROPIC_DEFAULT_MODEL=${current.fast}
ANTHROPIC_REASONING_MODEL=${current.reasoning}
ANTHROPIC_CRITICAL_MODEL=${current.critical}

# Safety limits
ANTHROPIC_MAX_TOKENS=1024
ANTHROPIC_TIMEOUT_MS=30000

# Environment context
ANTHROPIC_ENV=development

# Sluice gateway
SLUICE_UPSTREAM_URL=https://api.anthropic.com
SLUICE_DATABASE_URL=sqlite:./sluice.db
SLUICE_ADMIN_TOKEN=<REPLACE_WITH_A_LONG_RANDOM_STRING>
`;

export const SLUICE_YAML = `# sluice.yaml: gateway configuration. Secrets never go here: this file names the
# environment variables that hold them. Environment variables override these values.

upstream:
  # Where requests are forwarded (SLUICE_UPSTREAM_URL overrides).
  url: https://api.anthropic.com

# Upstream credentials per environment, by the NAME of the variable holding each key.
# A virtual key created in an environment is forwarded with that environment's key.
environments:
  development:
    keyEnv: ANTHROPIC_KEY_DEVELOPMENT
  production:
    keyEnv: ANTHROPIC_KEY_PRODUCTION

keys:
  # Virtual key names must follow env-service-role, e.g. prod-backend-v1.
  naming:
    pattern: "^(dev|staging|prod|ci)-[a-z0-9]+-[a-z0-9]+$"
    rule: "env-service-role, e.g. prod-backend-v1"

limits:
  # The organization's rate-limit tier (evaluation, start, build, scale, custom); sizes the
  # upstream buckets until response headers report the real limits.
  tier: evaluation
  # Quotas shared by all keys of an environment.
  environments:
    development: { rpm: 20, tpm: 20000 }

budgets:
  # Alerts at these percentages of each budget.
  thresholds: [50, 80, 100]
  limits:
    - { scope: global, window: monthly, usd: "100" }
    - { scope: environment, environment: production, window: daily, usd: "20" }

routing:
  # model: auto picks a tier by the prompt's complexity; rules run first.
  enabled: true
  models:
    fast: ${current.fast}
    reasoning: ${current.reasoning}
    critical: ${current.critical}
  rules:
    - name: ci-stays-cheap
      when: { environment: ci }
      tier: fast

# Paths \`sluice scan\` skips (patterns as in .gitignore), e.g. ["docs/examples/**"].
scan:
  ignore: []
`;

/** `.env` files hold real values; the example is meant to be committed. */
export const GITIGNORE_ENTRIES = ['.env', '.env.*', '!.env.example'];

/**
 * Adds the missing entries to a .gitignore's text, under a heading; returns the new text and what
 * was added. Existing lines are kept as they are.
 */
export function withGitignoreEntries(existing: string | undefined): { text: string; added: string[] } {
  const lines = new Set((existing ?? '').split(/\r?\n/).map((line) => line.trim()));
  const added = GITIGNORE_ENTRIES.filter((entry) => !lines.has(entry));
  // A negation only holds after the pattern it excepts from, so it follows a newly added `.env.*`.
  if (added.includes('.env.*') && !added.includes('!.env.example')) added.push('!.env.example');
  if (added.length === 0) return { text: existing ?? '', added };
  let text = existing ?? '';
  if (text.length > 0 && !text.endsWith('\n')) text += '\n';
  if (text.length > 0) text += '\n';
  text += `# Local secrets (sluice init)\n${added.join('\n')}\n`;
  return { text, added };
}
