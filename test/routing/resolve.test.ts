import { describe, expect, it } from 'vitest';
import { compileRouting, routingConfigSchema } from '../../src/routing/config.js';
import { formatRouteHeader } from '../../src/routing/header.js';
import type { MessagesRequestBody } from '../../src/routing/request.js';
import { type RouteInput, resolveRoute } from '../../src/routing/resolve.js';
import { DEFAULT_TIER_MODELS, tierModels } from '../../src/routing/tiers.js';

const CRITICAL_PROMPT =
  'Our board must decide tomorrow whether to accept an acquisition offer with a three-year earn-out. Should we accept, and what are the risks?';
const FAST_PROMPT = 'What is the capital of Portugal?';

function input(prompt: string, overrides: Partial<RouteInput> = {}, model = 'auto'): RouteInput {
  const body: MessagesRequestBody = { model, max_tokens: 512, messages: [{ role: 'user', content: prompt }] };
  return { body, headers: {}, keyName: 'app-prod', environment: 'production', ...overrides };
}

const plain = compileRouting({}, {});

describe('tier models', () => {
  it('take the configuration first, then the environment, then current defaults', () => {
    const env = { ANTHROPIC_DEFAULT_MODEL: 'claude-3-5-haiku', ANTHROPIC_CRITICAL_MODEL: 'claude-opus-5' };
    expect(tierModels({ critical: 'claude-opus-4-7' }, env)).toEqual({
      fast: 'claude-3-5-haiku',
      reasoning: DEFAULT_TIER_MODELS.reasoning,
      critical: 'claude-opus-4-7',
    });
    expect(compileRouting({}, {}).models).toEqual({
      fast: 'claude-haiku-5-5',
      reasoning: 'claude-sonnet-5-5',
      critical: 'claude-opus-5-5',
    });
  });
});

describe('resolveRoute', () => {
  it('passes an explicit model through untouched', () => {
    expect(resolveRoute(input(CRITICAL_PROMPT, {}, 'claude-sonnet-4-5'), plain)).toEqual({
      kind: 'explicit',
      model: 'claude-sonnet-4-5',
    });
  });

  it('classifies auto and maps the tier to its configured model', () => {
    const config = compileRouting({ models: { critical: 'claude-opus-5' } }, {});
    const decision = resolveRoute(input(CRITICAL_PROMPT), config);
    expect(decision).toMatchObject({
      kind: 'routed',
      tier: 'critical',
      model: 'claude-opus-5',
      source: 'classifier',
    });
    const fast = resolveRoute(input(FAST_PROMPT), config);
    expect(fast).toMatchObject({ kind: 'routed', tier: 'fast', model: 'claude-haiku-5-5' });
  });

  it('resolves tier aliases without a score', () => {
    const decision = resolveRoute(input(CRITICAL_PROMPT, {}, 'sluice-fast'), plain);
    expect(decision).toMatchObject({ kind: 'routed', tier: 'fast', source: 'alias', score: null });
  });

  it('lets the first matching rule override the classifier', () => {
    const config = compileRouting(
      {
        rules: [
          { name: 'support-bot', when: { key: 'support-*' }, tier: 'fast' },
          { name: 'legal-words', when: { prompt: '\\b(contract|lawsuit)\\b' }, tier: 'critical' },
          { name: 'staging', when: { environment: 'staging' }, tier: 'fast' },
          { name: 'team-header', when: { header: { 'X-Team': 'research' } }, tier: 'critical' },
          { name: 'vip', when: { metadata: { user_id: 'vip-*' } }, tier: 'critical' },
        ],
      },
      {},
    );
    expect(resolveRoute(input(CRITICAL_PROMPT, { keyName: 'support-widget' }), config)).toMatchObject({
      tier: 'fast',
      source: 'rule',
      rule: 'support-bot',
      reasons: ['rule:support-bot'],
    });
    expect(resolveRoute(input('Is this CONTRACT ok?'), config)).toMatchObject({
      tier: 'critical',
      rule: 'legal-words',
    });
    expect(resolveRoute(input(CRITICAL_PROMPT, { environment: 'staging' }), config)).toMatchObject({
      tier: 'fast',
      rule: 'staging',
    });
    expect(resolveRoute(input(FAST_PROMPT, { headers: { 'x-team': 'Research' } }), config)).toMatchObject({
      tier: 'critical',
      rule: 'team-header',
    });
    const vip = input(FAST_PROMPT);
    vip.body.metadata = { user_id: 'vip-42' };
    expect(resolveRoute(vip, config)).toMatchObject({ tier: 'critical', rule: 'vip' });
    expect(resolveRoute(input(FAST_PROMPT), config)).toMatchObject({ tier: 'fast', source: 'classifier' });
  });

  it('caps a routed tier by key policy, from the configuration or from the key itself', () => {
    const config = compileRouting({ keys: { 'ci-*': { maxTier: 'reasoning' } } }, {});
    expect(resolveRoute(input(CRITICAL_PROMPT, { keyName: 'ci-runner' }), config)).toMatchObject({
      tier: 'reasoning',
      model: 'claude-sonnet-5-5',
    });
    const capped = resolveRoute(input(CRITICAL_PROMPT, { keyPolicy: { maxTier: 'fast' } }), config);
    expect(capped).toMatchObject({ tier: 'fast' });
    expect(capped.kind === 'routed' && capped.reasons.at(-1)).toBe('capped:fast');
  });

  it('refuses a tier the client demands above the cap', () => {
    const config = compileRouting({ keys: { 'ci-*': { maxTier: 'reasoning' } } }, {});
    expect(
      resolveRoute(input(FAST_PROMPT, { keyName: 'ci-runner' }, 'sluice-critical'), config),
    ).toMatchObject({
      kind: 'refused',
      status: 403,
      errorType: 'permission_error',
    });
    const header = input(FAST_PROMPT, { keyName: 'ci-runner', headers: { 'x-sluice-min-tier': 'critical' } });
    expect(resolveRoute(header, config)).toMatchObject({ kind: 'refused', status: 403 });
  });

  it('refuses auto for a key that may not use it, but accepts its tier aliases', () => {
    const config = compileRouting({ keys: { 'batch-*': { allowAuto: false } } }, {});
    expect(resolveRoute(input(FAST_PROMPT, { keyName: 'batch-nightly' }), config)).toMatchObject({
      kind: 'refused',
      status: 403,
    });
    expect(
      resolveRoute(input(FAST_PROMPT, { keyName: 'batch-nightly' }, 'sluice-reasoning'), config),
    ).toMatchObject({
      kind: 'routed',
      tier: 'reasoning',
    });
    expect(resolveRoute(input(FAST_PROMPT, { keyPolicy: { allowAuto: false } }), plain)).toMatchObject({
      kind: 'refused',
      status: 403,
    });
  });

  it('raises the tier to the x-sluice-min-tier header and rejects an unknown value', () => {
    const raised = resolveRoute(input(FAST_PROMPT, { headers: { 'X-Sluice-Min-Tier': 'reasoning' } }), plain);
    expect(raised).toMatchObject({ kind: 'routed', tier: 'reasoning', model: 'claude-sonnet-5-5' });
    expect(raised.kind === 'routed' && raised.reasons).toContain('min-tier-header:reasoning');
    const lower = resolveRoute(input(CRITICAL_PROMPT, { headers: { 'x-sluice-min-tier': 'fast' } }), plain);
    expect(lower).toMatchObject({ tier: 'critical' });
    expect(
      resolveRoute(input(FAST_PROMPT, { headers: { 'x-sluice-min-tier': 'opus' } }), plain),
    ).toMatchObject({
      kind: 'refused',
      status: 400,
      errorType: 'invalid_request_error',
    });
  });

  it('refuses routing aliases when routing is disabled', () => {
    const config = compileRouting({ enabled: false }, {});
    expect(resolveRoute(input(FAST_PROMPT), config)).toMatchObject({ kind: 'refused', status: 400 });
    expect(resolveRoute(input(FAST_PROMPT, {}, 'claude-haiku-5-5'), config)).toMatchObject({
      kind: 'explicit',
    });
  });
});

describe('routing configuration schema', () => {
  it('rejects a bad regular expression, a rule without conditions and inverted thresholds', () => {
    expect(
      routingConfigSchema.safeParse({ rules: [{ name: 'x', when: { prompt: '(' }, tier: 'fast' }] }).success,
    ).toBe(false);
    expect(routingConfigSchema.safeParse({ rules: [{ name: 'x', when: {}, tier: 'fast' }] }).success).toBe(
      false,
    );
    expect(routingConfigSchema.safeParse({ thresholds: { reasoning: 0.8, critical: 0.5 } }).success).toBe(
      false,
    );
    expect(
      routingConfigSchema.safeParse({ rules: [{ name: 'x', when: { key: 'a' }, tier: 'opus' }] }).success,
    ).toBe(false);
  });

  it('applies the configured confidence threshold: below it the tier goes up one', () => {
    const relaxed = compileRouting({ confidence: { threshold: 0 } });
    const strict = compileRouting({ confidence: { threshold: 1 } });
    const sure = resolveRoute(input('hello'), relaxed);
    const unsure = resolveRoute(input('hello'), strict);
    expect(sure).toMatchObject({ tier: 'fast', decided: 'model', needsJudge: false });
    expect(unsure).toMatchObject({ tier: 'reasoning', decided: 'escalation', needsJudge: false });
    expect(formatRouteHeader(unsure)).toMatch(/; decided=escalation; reasons=escalated:confidence<1\.00/);
  });
});

describe('x-sluice-route header', () => {
  it('shows tier, score, source and top reasons in short ASCII', () => {
    const decision = resolveRoute(input(CRITICAL_PROMPT), plain);
    const value = formatRouteHeader(decision)!;
    expect(value).toMatch(
      /^tier=critical; score=\d\.\d\d; by=classifier; confidence=\d\.\d\d; decided=(model|escalation); reasons=[\x21-\x7e]+$/,
    );
    expect(value.length).toBeLessThanOrEqual(240);
    expect(formatRouteHeader({ kind: 'explicit', model: 'claude-haiku-5-5' })).toBeUndefined();
  });

  it('replaces non-ASCII and separator characters in rule names', () => {
    const value = formatRouteHeader({
      kind: 'routed',
      requested: 'auto',
      tier: 'fast',
      model: 'm',
      confidence: null,
      decided: null,
      needsJudge: false,
      score: 0.1,
      reasons: ['rule:café; x=1'],
      source: 'rule',
      rule: 'café; x=1',
    })!;
    expect(value).toBe('tier=fast; score=0.10; by=rule; reasons=rule:caf___x_1');
  });
});
