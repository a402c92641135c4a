import { type Finding, RULE_DESCRIPTIONS, type Rule } from './finding.js';
import type { ScanResult } from './scan.js';

export type ReportFormat = 'text' | 'json' | 'sarif';

const FIXES: Record<Rule, string> = {
  'anthropic-api-key': 'revoke the key in the Anthropic Console, then read it from an environment variable',
  'anthropic-admin-key':
    'revoke the admin key in the Anthropic Console at once; admin keys control the organization',
  'anthropic-oauth-token': 'sign out the session that issued the token, then keep tokens out of files',
  'sluice-virtual-key': 'revoke the virtual key in Sluice and issue a new one',
  'public-env-exposure':
    'bundlers ship this variable to every browser; call the API from a server route or through the Sluice gateway',
  'env-file-committable':
    'add it to .gitignore (`sluice init` does this) and `git rm --cached` it if tracked',
};

function location(finding: Finding): string {
  const commit = finding.commit ? `${finding.commit.slice(0, 12)} ` : '';
  return finding.line > 0
    ? `${commit}${finding.path}:${finding.line}:${finding.column}`
    : `${commit}${finding.path}`;
}

function formatBytes(bytes: number): string {
  if (bytes >= 1e9) return `${(bytes / 1e9).toFixed(1)} GB`;
  if (bytes >= 1e6) return `${(bytes / 1e6).toFixed(1)} MB`;
  return `${(bytes / 1e3).toFixed(1)} kB`;
}

export function formatText(result: ScanResult): string {
  const lines: string[] = [];
  for (const finding of result.findings) {
    const verified = finding.verification ? ` [${finding.verification}]` : '';
    lines.push(`${location(finding)}  ${finding.rule}  ${finding.hint}${verified}`);
    lines.push(`  ${RULE_DESCRIPTIONS[finding.rule]}: ${FIXES[finding.rule]}`);
  }
  const count = result.findings.length;
  const accepted = result.baselined > 0 ? `; ${result.baselined} accepted by the baseline` : '';
  const scanned = result.files > 0 ? ` in ${result.files} files (${formatBytes(result.bytes)})` : '';
  lines.push(
    `${count === 0 ? 'no findings' : `${count} finding${count === 1 ? '' : 's'}`}${scanned}${accepted}`,
  );
  return `${lines.join('\n')}\n`;
}

export function formatJson(result: ScanResult): string {
  return `${JSON.stringify(
    { findings: result.findings, files: result.files, bytes: result.bytes, baselined: result.baselined },
    null,
    2,
  )}\n`;
}

/** SARIF 2.1.0, the format code-scanning services (GitHub, GitLab, Azure) import. */
export function formatSarif(result: ScanResult, toolVersion: string): string {
  const rules = Object.keys(RULE_DESCRIPTIONS) as Rule[];
  const sarif = {
    $schema: 'https://json.schemastore.org/sarif-2.1.0.json',
    version: '2.1.0',
    runs: [
      {
        tool: {
          driver: {
            name: 'sluice',
            version: toolVersion,
            rules: rules.map((id) => ({
              id,
              shortDescription: { text: RULE_DESCRIPTIONS[id] },
              help: { text: FIXES[id] },
            })),
          },
        },
        results: result.findings.map((finding) => ({
          ruleId: finding.rule,
          ruleIndex: rules.indexOf(finding.rule),
          level: finding.rule === 'env-file-committable' ? 'warning' : 'error',
          message: {
            text: `${RULE_DESCRIPTIONS[finding.rule]}: ${finding.hint}${finding.commit ? ` (commit ${finding.commit})` : ''}`,
          },
          locations: [
            {
              physicalLocation: {
                artifactLocation: { uri: finding.path },
                ...(finding.line > 0
                  ? { region: { startLine: finding.line, startColumn: finding.column } }
                  : {}),
              },
            },
          ],
          partialFingerprints: { 'sluiceFingerprint/v1': finding.fingerprint },
          ...(finding.verification ? { properties: { verification: finding.verification } } : {}),
        })),
      },
    ],
  };
  return `${JSON.stringify(sarif, null, 2)}\n`;
}
