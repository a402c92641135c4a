import { describe, expect, it } from 'vitest';
import { matchRoute, ROUTES, supportedPaths } from '../../src/server/routes.js';

describe('the route table', () => {
  it('matches every entry, with its parameters decoded and the path rebuilt from them', () => {
    for (const route of ROUTES) {
      const path = route.path.replace(/\{(\w+)\}/g, (_m, name: string) => `${name}_01Ab`);
      for (const method of route.methods) {
        const match = matchRoute(method, path);
        expect(match.kind, `${method} ${path}`).toBe('route');
        if (match.kind === 'route') {
          expect(match.route).toBe(route);
          expect(match.path).toBe(path);
        }
      }
    }
    const content = matchRoute('GET', '/v1/files/file%5F011C/content');
    expect(content).toMatchObject({
      kind: 'route',
      params: { file_id: 'file_011C' },
      path: '/v1/files/file_011C/content',
    });
  });

  it('refuses ids that are not plain ids, so no encoded traversal is forwarded', () => {
    for (const id of ['..', '%2e%2e', '..%2fadmin', 'a%2fb', '%zz', '.hidden'])
      expect(matchRoute('GET', `/v1/files/${id}`).kind, id).toBe('bad-id');
    expect(matchRoute('GET', '/v1/files/a/b/c').kind).toBe('unknown');
  });

  it('refuses the Admin API and Managed Agents on any method, and names the methods a path takes', () => {
    for (const path of [
      '/v1/organizations/api_keys',
      '/v1/organizations/workspaces/w/members',
      '/v1/agents',
      '/v1/sessions/s_1/events',
    ])
      for (const method of ['GET', 'POST', 'DELETE'])
        expect(matchRoute(method, path)).toMatchObject({
          kind: 'refused',
          refusal: { status: 403, type: 'permission_error' },
        });
    expect(matchRoute('PUT', '/v1/files')).toMatchObject({ kind: 'method', allowed: ['POST', 'GET'] });
    expect(matchRoute('POST', '/v1/messages/batches/msgbatch_1/cancel').kind).toBe('route');
    expect(matchRoute('POST', '/v1/messages/batchez').kind).toBe('unknown');
  });

  it('lists every method and path it serves', () => {
    const listed = supportedPaths();
    expect(listed).toContain('POST /v1/messages');
    expect(listed).toContain('DELETE /v1/skills/{skill_id}/versions/{version}');
    expect(listed).toHaveLength(ROUTES.reduce((n, route) => n + route.methods.length, 0));
  });
});
