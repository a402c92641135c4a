import { readFileSync } from 'node:fs';
import { parser } from '@prometheus-io/lezer-promql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { type Stack, startStack } from '../helpers/stack.js';

const dashboard = JSON.parse(readFileSync('deploy/grafana/sluice-dashboard.json', 'utf8')) as {
  uid: string;
  panels: Array<{ title: string; targets: Array<{ expr: string }> }>;
};
const alertRules = parseYaml(readFileSync('deploy/prometheus/sluice-alerts.yml', 'utf8')) as {
  groups: Array<{ name: string; rules: Array<Record<string, unknown>> }>;
};

interface Selector {
  metric: string;
  labels: string[];
}

/** Parses a PromQL expression (Grafana's range variable as a plain duration) and lists its selectors. */
function selectorsOf(expression: string): Selector[] {
  const text = expression.replaceAll('$__range', '1h').replaceAll('$__rate_interval', '5m');
  const tree = parser.parse(text);
  const errors: string[] = [];
  const selectors: Selector[] = [];
  let current: Selector | undefined;
  const grouping: string[] = [];
  tree.iterate({
    enter(node) {
      if (node.type.isError) errors.push(text.slice(node.from, node.to) || `at ${node.from}`);
      if (node.name === 'VectorSelector') {
        current = { metric: '', labels: [] };
        selectors.push(current);
      } else if (node.name === 'Identifier' && current && current.metric === '') {
        current.metric = text.slice(node.from, node.to);
      } else if (node.name === 'LabelName') {
        const label = text.slice(node.from, node.to);
        if (current) current.labels.push(label);
        else grouping.push(label);
      }
    },
    leave(node) {
      if (node.name === 'VectorSelector') current = undefined;
    },
  });
  expect(errors, `PromQL errors in ${expression}`).toEqual([]);
  // Grouping labels (by/without) must exist on the selected metrics too.
  for (const selector of selectors) selector.labels.push(...grouping.filter((l) => l !== 'le'));
  return selectors;
}

const expressions = [
  ...dashboard.panels.flatMap((panel) => panel.targets.map((t) => ({ where: panel.title, expr: t.expr }))),
  ...alertRules.groups.flatMap((g) => g.rules.map((r) => ({ where: String(r.alert), expr: String(r.expr) }))),
];

let stack: Stack;
let exported: Map<string, Set<string>>;
beforeAll(async () => {
  stack = await startStack();
  // A workload that gives most families samples, so their label names can be checked too.
  await stack.sdk().messages.create({
    model: 'claude-haiku-4-5',
    max_tokens: 32,
    messages: [{ role: 'user', content: 'Hi' }],
  });
  await stack
    .sdk()
    .messages.stream({ model: 'auto', max_tokens: 32, messages: [{ role: 'user', content: 'Hi' }] })
    .finalMessage();
  const text = await (await fetch(`${stack.gateway.url}/metrics`)).text();
  exported = new Map();
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)/.exec(line);
    if (type) {
      const names =
        type[2] === 'histogram'
          ? [`${type[1]}_bucket`, `${type[1]}_sum`, `${type[1]}_count`]
          : type[2] === 'summary'
            ? [type[1]!, `${type[1]}_sum`, `${type[1]}_count`]
            : [type[1]!];
      for (const name of names) exported.set(name, new Set());
      continue;
    }
    const sample = /^(\w+)\{([^}]*)\}/.exec(line);
    if (sample) for (const pair of sample[2]!.matchAll(/(\w+)="/g)) exported.get(sample[1]!)?.add(pair[1]!);
  }
});
afterAll(() => stack.close());

describe('the Grafana dashboard and the Prometheus alert rules', () => {
  it('use only metrics and labels the gateway really exports', () => {
    expect(expressions.length).toBeGreaterThan(20);
    const problems: string[] = [];
    for (const { where, expr } of expressions) {
      for (const selector of selectorsOf(expr)) {
        const labels = exported.get(selector.metric);
        if (!labels) {
          problems.push(`${where}: ${selector.metric} is not exported`);
          continue;
        }
        // Families without samples yet (no budget, no refusal) have no label names to check.
        if (labels.size === 0) continue;
        for (const label of selector.labels)
          if (label !== 'le' && !labels.has(label))
            problems.push(`${where}: ${selector.metric} has no label ${label}`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('alert on 429 rate, budget at 80 % and queue wait, each with a severity and a summary', () => {
    const rules = alertRules.groups.flatMap((g) => g.rules);
    const byName = new Map(rules.map((r) => [String(r.alert), r]));
    expect(String(byName.get('SluiceUpstream429Rate')?.expr)).toContain('code="429"');
    expect(String(byName.get('SluiceBudgetAt80Percent')?.expr)).toMatch(/sluice_budget_used_ratio\) >= 0\.8/);
    expect(String(byName.get('SluiceQueueWaitHigh')?.expr)).toContain(
      'sluice_limits_queue_wait_seconds_bucket',
    );
    for (const rule of rules) {
      expect((rule.labels as Record<string, string>)?.severity, String(rule.alert)).toMatch(
        /^(warning|critical)$/,
      );
      expect((rule.annotations as Record<string, string>)?.summary, String(rule.alert)).toBeTruthy();
    }
  });

  it('a wrong name is caught', () => {
    const [selector] = selectorsOf('sum(rate(sluice_requests_totl[5m]))');
    expect(exported.has(selector!.metric)).toBe(false);
    expect(() => selectorsOf('sum(rate(sluice_requests_total[5m])')).toThrow();
  });
});
