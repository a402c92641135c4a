// The Sluice dashboard page: reads the admin API through /dashboard/admin/… with its session
// cookie, redraws every few seconds, and sends state changes with the per-session CSRF token.
// Plain DOM and uPlot, no framework; text is always set as text, never parsed as HTML.
(() => {
  const POLL_MS = 5000;
  const csrf = document.querySelector('meta[name="sluice-csrf"]').getAttribute('content');
  const $ = (id) => document.getElementById(id);
  const charts = {};
  const palette = ['#2563eb', '#dc2626', '#16a34a', '#d97706', '#7c3aed', '#0891b2', '#db2777', '#65a30d'];
  let timer;
  let busy = false;
  let again = false;
  /** What the slow cycle fetched, for the fast readers to draw with. */
  const slowData = { tier: null, audit: null };

  async function api(path, options = {}) {
    const init = { cache: 'no-store', credentials: 'same-origin', ...options };
    if (init.method && init.method !== 'GET') {
      init.headers = { 'content-type': 'application/json', 'x-sluice-csrf': csrf, ...(init.headers || {}) };
    }
    const response = await fetch(`/dashboard/admin/${path}`, init);
    if (response.status === 401) {
      // The session ended (logout elsewhere, expiry, new admin token): back to the login form.
      window.location.assign('/dashboard');
      throw new Error('session ended');
    }
    const body = await response.json().catch(() => null);
    return { status: response.status, body };
  }

  async function data(path) {
    const { status, body } = await api(path);
    if (status === 404) return null;
    if (status !== 200) throw new Error(body?.error?.message || `HTTP ${status}`);
    return body;
  }

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === undefined || value === null) continue;
      if (name === 'text') node.textContent = String(value);
      else if (name === 'onclick') node.addEventListener('click', value);
      else node.setAttribute(name, String(value));
    }
    for (const child of children) if (child !== null && child !== undefined) node.append(child);
    return node;
  }

  function table(id, header, rows) {
    const t = $(id);
    t.replaceChildren(
      el('thead', {}, el('tr', {}, ...header.map((h) => el('th', { text: h })))),
      el(
        'tbody',
        {},
        ...(rows.length === 0
          ? [el('tr', {}, el('td', { colspan: header.length, class: 'muted', text: 'none yet' }))]
          : rows.map((cells) =>
              el(
                'tr',
                {},
                ...cells.map((c) => (c instanceof Node ? el('td', {}, c) : el('td', { text: c ?? '–' }))),
              ),
            )),
      ),
    );
  }

  const usd = (text) => `$${text}`;
  const int = (n) => Number(n).toLocaleString('en-US');
  const when = (iso) => (iso ? new Date(iso).toLocaleString() : 'never');
  const range = () => $('range').value;

  function figure(label, value, testid, cls) {
    return el(
      'div',
      { class: cls },
      el('span', { class: 'label', text: label }),
      el('span', { class: 'figure', 'data-testid': testid, text: value }),
    );
  }

  function chart(id, title, labels, xs, ys, options = {}) {
    const box = $(id);
    const width = Math.max(260, box.clientWidth || 600);
    const series = [
      {},
      ...labels.map((label, i) => ({
        label,
        stroke: options.colors?.[i] ?? palette[i % palette.length],
        width: 2,
        dash: options.dashed?.[i] ? [6, 4] : undefined,
        points: { show: false },
      })),
    ];
    const key = `${id}:${labels.join('|')}`;
    const existing = charts[id];
    if (existing && existing.key === key && typeof uPlot !== 'undefined') {
      existing.plot.setData([xs, ...ys]);
      if (Math.abs(existing.plot.width - width) > 4) existing.plot.setSize({ width, height: 220 });
      return;
    }
    existing?.plot.destroy();
    if (typeof uPlot === 'undefined') {
      box.textContent = 'charts unavailable';
      return;
    }
    box.replaceChildren();
    const plot = new uPlot(
      {
        title,
        width,
        height: 220,
        series,
        axes: [{}, { size: 70, values: options.yValues }],
        scales: { x: { time: true } },
        legend: { live: false },
      },
      [xs, ...ys],
      box,
    );
    charts[id] = { key, plot };
  }

  const SPEND_HEADER = ['requests', 'input', 'output', 'cost', 'cache saved'];
  const spendRow = (g, label) => [
    label,
    int(g.requests),
    int(g.input_tokens),
    int(g.output_tokens),
    el('span', { 'data-testid': `cost-${label}`, text: usd(g.cost_usd) }),
    usd(g.cache_savings_usd),
  ];

  async function spend() {
    const since = range();
    const [report, series, budgets] = await Promise.all([
      data(`spend?since=${since}&by=key`),
      data(`spend/series?since=${since}&by=${$('spend-by').value}`),
      data('budgets'),
    ]);
    $('spend').querySelector('[data-testid="spend-total"]').textContent = usd(report.total.cost_usd);
    $('spend').querySelector('[data-testid="spend-requests"]').textContent = int(report.total.requests);
    $('spend').querySelector('[data-testid="cache-savings"]').textContent = usd(
      report.total.cache_savings_usd,
    );
    const dollars = (_plot, vals) => vals.map((v) => (v === null ? '' : `$${v.toFixed(4)}`));
    const xs = series.steps.map((t) => t / 1000);
    chart(
      'spend-chart',
      `Spend per ${stepName(series.step_ms)} by ${series.by}`,
      series.series.map((s) => s.name ?? (s.group || '(none)')),
      xs,
      series.series.map((s) => s.points.map(Number)),
      { yValues: dollars },
    );
    // Cumulative total across all groups (whatever the grouping), against the budgets' limits.
    let running = 0;
    const total = series.steps.map((_, i) => {
      for (const s of series.series) running += Number(s.points[i]);
      return running;
    });
    const limits = (budgets?.data ?? []).map((b) => Number(b.limit_usd));
    chart(
      'budget-chart',
      'Cumulative spend and budget limits',
      ['spend', ...(budgets?.data ?? []).map((b) => `budget ${b.id} (${b.window})`)],
      xs,
      [total, ...limits.map((limit) => cumulative.steps.map(() => limit))],
      { yValues: dollars, dashed: [false, ...limits.map(() => true)] },
    );
    const alerts = [];
    table(
      'budgets',
      ['budget', 'window', 'limit', 'spent', 'used', 'resets'],
      (budgets?.data ?? []).map((b) => {
        const used = Number(b.limit_usd) > 0 ? (Number(b.spent_usd) / Number(b.limit_usd)) * 100 : 0;
        const crossed = b.thresholds.filter((t) => used >= t);
        if (crossed.length > 0)
          alerts.push(`${b.subject_name ?? b.id}: ${used.toFixed(1)}% of ${usd(b.limit_usd)} (${b.window})`);
        return [
          b.subject_name ? `${b.scope} ${b.subject_name}` : b.id,
          b.window,
          usd(b.limit_usd),
          usd(b.spent_usd),
          `${used.toFixed(1)}%`,
          b.resets_at ? when(b.resets_at) : 'never',
        ];
      }),
    );
    $('alerts').replaceChildren(
      ...alerts.map((a) => el('p', { class: 'alert', role: 'status', text: `Budget alert: ${a}` })),
    );
    table(
      'spend-keys',
      ['key', ...SPEND_HEADER],
      report.groups.map((g) => spendRow(g, g.name ?? (g.group || '(none)'))),
    );
  }

  /** By model and by environment: the whole report for each, refreshed on the slow cycle. */
  async function spendTables() {
    const since = range();
    const [byModel, byEnv] = await Promise.all([
      data(`spend?since=${since}&by=model`),
      data(`spend?since=${since}&by=env`),
    ]);
    table(
      'spend-models',
      ['model', ...SPEND_HEADER],
      byModel.groups.map((g) => spendRow(g, g.group)),
    );
    table(
      'spend-envs',
      ['environment', ...SPEND_HEADER],
      byEnv.groups.map((g) => spendRow(g, g.group || '(none)')),
    );
  }

  const OUTCOME_LABELS = {
    ok: 'Answered',
    upstream_429: 'Upstream 429',
    upstream_529: 'Upstream 529',
    upstream_error: 'Other upstream errors',
    refused_rate_limit: 'Sluice refused: rate limit',
    refused_policy: 'Sluice refused: budget or policy',
    refused_unavailable: 'Sluice unavailable',
    client_closed: 'Client closed',
    other: 'Other',
  };

  async function requests() {
    const activity = await data(`requests/activity?since=${range()}`);
    const t = activity.totals;
    const upstream = ['upstream_429', 'upstream_529', 'upstream_error'];
    const local = ['refused_rate_limit', 'refused_policy', 'refused_unavailable'];
    $('outcomes').replaceChildren(
      figure('Requests', int(t.requests), 'count-requests'),
      figure('Answered', int(t.ok), 'count-ok'),
      el(
        'div',
        { class: 'group upstream' },
        el('h3', { text: 'From the upstream' }),
        ...upstream.map((o) => figure(OUTCOME_LABELS[o], int(t[o]), `count-${o}`)),
        figure('Retried attempts', int(t.retries), 'count-retries'),
      ),
      el(
        'div',
        { class: 'group local' },
        el('h3', { text: "Sluice's own refusals" }),
        ...local.map((o) => figure(OUTCOME_LABELS[o], int(t[o]), `count-${o}`)),
        figure('Client closed', int(t.client_closed), 'count-client_closed'),
      ),
    );
    const shown = ['ok', ...upstream, ...local];
    chart(
      'requests-chart',
      `Requests per ${stepName(activity.step_ms)}`,
      shown.map((o) => OUTCOME_LABELS[o]),
      activity.steps.map((s) => s / 1000),
      shown.map((o) => activity.series[o]),
    );
  }

  const queueSamples = { xs: [], depth: [], wait: [] };

  async function limits() {
    const snapshot = await data('limits');
    const tier = slowData.tier;
    $('tier-line').textContent = tier
      ? `Tier ${tier.tier}: 30-day spend $${tier.spend_30d_usd}, this month $${tier.spend_this_month_usd}` +
        (tier.monthly_spend_cap_usd ? ` of a $${tier.monthly_spend_cap_usd} cap` : '')
      : 'tier report not available';
    const live = new Map();
    for (const set of snapshot?.sets ?? []) live.set(`${set.pool}:${set.speed}`, set);
    const rows = [];
    const pools = tier?.pools ?? [];
    const remaining = (bucket) =>
      bucket ? `${int(Math.max(0, Math.floor(bucket.remaining)))} / ${int(bucket.limit)}` : '–';
    for (const pool of pools) {
      const set = live.get(`${pool.pool}:standard`);
      rows.push([
        pool.pool,
        `${int(pool.limits.rpm)} rpm · ${int(pool.limits.itpm)} itpm · ${int(pool.limits.otpm)} otpm`,
        remaining(set?.buckets.rpm),
        remaining(set?.buckets.itpm),
        remaining(set?.buckets.otpm),
        `${pool.headroom_percent.rpm}% · ${pool.headroom_percent.itpm}% · ${pool.headroom_percent.otpm}%`,
        set ? int(set.queue.depth) : '0',
        set && set.queue.depth > 0 ? `${(set.queue.oldestWaitMs / 1000).toFixed(1)} s` : '–',
      ]);
    }
    for (const set of snapshot?.sets ?? []) {
      if (set.speed === 'standard' && pools.some((p) => p.pool === set.pool)) continue;
      rows.push([
        `${set.pool} (${set.speed})`,
        '–',
        remaining(set.buckets.rpm),
        remaining(set.buckets.itpm),
        remaining(set.buckets.otpm),
        '–',
        int(set.queue.depth),
        set.queue.depth > 0 ? `${(set.queue.oldestWaitMs / 1000).toFixed(1)} s` : '–',
      ]);
    }
    table(
      'pools',
      [
        'pool',
        'tier limits',
        'requests left',
        'input tokens left',
        'output tokens left',
        '30-day peak headroom (rpm · itpm · otpm)',
        'queued',
        'oldest wait',
      ],
      rows,
    );
    $('tier-warnings').replaceChildren(...(tier?.warnings ?? []).map((w) => el('li', { text: w })));
    // Queue depth as sampled by this page while it is open.
    const sets = snapshot?.sets ?? [];
    queueSamples.xs.push(Date.now() / 1000);
    queueSamples.depth.push(sets.reduce((n, s) => n + s.queue.depth, 0));
    queueSamples.wait.push(
      sets.reduce((n, s) => Math.max(n, s.queue.depth > 0 ? s.queue.oldestWaitMs / 1000 : 0), 0),
    );
    for (const list of Object.values(queueSamples)) if (list.length > 360) list.shift();
    // One sample is no line yet.
    if (queueSamples.xs.length < 2) return;
    chart(
      'queue-chart',
      'Queue while this page is open',
      ['queued requests', 'oldest wait (s)'],
      queueSamples.xs,
      [queueSamples.depth, queueSamples.wait],
    );
  }

  /** Reports that read 30 days of the ledger (the tier's peaks) or every routed row: the slow cycle. */
  async function tier() {
    slowData.tier = await data('tier');
  }

  async function audit() {
    slowData.audit = await data('keys/audit');
  }

  async function routing() {
    const report = await data(`spend/routing?since=${range()}`);
    if (!report) {
      $('routing-figures').textContent = 'routing report not available';
      return;
    }
    $('routing-figures').replaceChildren(
      figure('Routed requests', int(report.routed_requests), 'routed-requests'),
      figure('Cost', usd(report.actual_usd), 'routing-actual'),
      figure(`On ${report.baseline_model}`, usd(report.baseline_usd), 'routing-baseline'),
      figure(
        'Saved',
        `${usd(report.saved_usd)}${report.saved_percent === null ? '' : ` (${report.saved_percent}%)`}`,
        'routing-saved',
      ),
    );
    table(
      'routing-tiers',
      ['tier', 'requests', 'cost', `on ${report.baseline_model}`],
      report.tiers.map((t) => [t.tier, int(t.requests), usd(t.actual_usd), usd(t.baseline_usd)]),
    );
  }

  async function batches() {
    const body = await data('batches');
    const box = $('batches-body');
    if (!body) {
      box.replaceChildren(el('p', { class: 'muted', text: 'batches not available on this gateway' }));
      return;
    }
    const rows = Array.isArray(body.data) ? body.data : [];
    const columns = [
      ...new Set(rows.flatMap((r) => Object.keys(r)).filter((k) => typeof rows[0]?.[k] !== 'object')),
    ].slice(0, 8);
    box.replaceChildren(el('div', { class: 'table' }, el('table', { id: 'batch-table' })));
    table(
      'batch-table',
      columns,
      rows.map((r) => columns.map((c) => (r[c] === null || r[c] === undefined ? '–' : String(r[c])))),
    );
  }

  async function keys() {
    const [list, budgets] = await Promise.all([data('keys'), data('budgets')]);
    const audit = slowData.audit;
    const keyBudgets = new Map();
    for (const b of budgets?.data ?? []) {
      if (b.scope !== 'key') continue;
      const text = `${usd(b.spent_usd)} of ${usd(b.limit_usd)} ${b.window}`;
      keyBudgets.set(b.subject, [...(keyBudgets.get(b.subject) ?? []), text]);
    }
    const flags = new Map();
    if (audit && Array.isArray(audit.keys)) for (const k of audit.keys) flags.set(k.id, k.flags ?? []);
    $('audit-line').textContent =
      audit && Array.isArray(audit.keys)
        ? `Audit generated ${when(audit.generated_at)}`
        : 'audit not available';
    const quota = (k) =>
      [k.rpm && `${int(k.rpm)} rpm`, k.tpm && `${int(k.tpm)} tpm`, k.tpd && `${int(k.tpd)} tpd`]
        .filter(Boolean)
        .join(' · ') || 'none';
    table(
      'key-table',
      ['name', 'environment', 'status', 'last used', 'quotas', 'budgets', 'audit', ''],
      list.data.map((k) => [
        el('span', { 'data-testid': `key-${k.name}`, text: k.name }),
        k.environment,
        el('span', { class: `status ${k.status}`, 'data-testid': `status-${k.name}`, text: k.status }),
        when(k.lastUsedAt),
        quota(k),
        (keyBudgets.get(k.id) ?? []).join('; ') || 'none',
        audit ? (flags.get(k.id) ?? []).join(', ') || 'ok' : '–',
        k.status === 'active'
          ? el(
              'span',
              { class: 'actions' },
              el('button', {
                type: 'button',
                'data-testid': `rotate-${k.name}`,
                text: 'Rotate',
                onclick: () => change(k.name, 'rotate'),
              }),
              el('button', {
                type: 'button',
                class: 'danger',
                'data-testid': `revoke-${k.name}`,
                text: 'Revoke',
                onclick: () => change(k.name, 'revoke'),
              }),
            )
          : '',
      ]),
    );
  }

  function showSecret(secret) {
    $('secret-value').textContent = secret;
    $('secret').hidden = false;
  }

  async function change(name, action) {
    const question =
      action === 'revoke'
        ? `Revoke ${name}? Requests with it are refused at once.`
        : `Rotate ${name}? Its current secret stops working at once.`;
    if (!window.confirm(question)) return;
    const { status, body } = await api(`keys/${encodeURIComponent(name)}/${action}`, { method: 'POST' });
    $('key-message').textContent = status === 200 ? '' : (body?.error?.message ?? `HTTP ${status}`);
    if (status === 200 && body.key) showSecret(body.key);
    await refresh();
  }

  $('create-key').addEventListener('submit', async (event) => {
    event.preventDefault();
    const form = new FormData(event.target);
    const input = { name: form.get('name'), environment: form.get('environment') };
    if (form.get('rpm')) input.rpm = Number(form.get('rpm'));
    const { status, body } = await api('keys', { method: 'POST', body: JSON.stringify(input) });
    $('key-message').textContent = status === 201 ? '' : (body?.error?.message ?? `HTTP ${status}`);
    if (status === 201) {
      event.target.reset();
      showSecret(body.key);
    }
    await refresh();
  });
  $('secret-done').addEventListener('click', () => {
    $('secret-value').textContent = '';
    $('secret').hidden = true;
  });

  async function recent() {
    const body = await data('requests/recent?limit=50');
    table(
      'recent-table',
      ['time', 'key', 'model', 'status', 'upstream', 'latency', 'tokens in/out', 'cost', 'request id'],
      body.data.map((r) => [
        new Date(r.at).toLocaleTimeString(),
        r.key_name ?? r.key_id ?? '–',
        r.requested_model === r.model ? r.model : `${r.requested_model} → ${r.model}`,
        el('span', { class: `outcome ${r.outcome}`, text: `${r.status} ${OUTCOME_LABELS[r.outcome]}` }),
        r.upstream_status === null ? '–' : String(r.upstream_status),
        `${int(r.latency_ms)} ms`,
        `${int(r.input_tokens)} / ${int(r.output_tokens)}`,
        usd(r.cost_usd),
        r.request_id,
      ]),
    );
  }

  function stepName(ms) {
    if (ms % 86_400_000 === 0) return ms === 86_400_000 ? 'day' : `${ms / 86_400_000} days`;
    if (ms % 3_600_000 === 0) return ms === 3_600_000 ? 'hour' : `${ms / 3_600_000} hours`;
    return `${Math.round(ms / 60_000)} min`;
  }

  // Each reader and the section it fills. The fast ones run every refresh; the slow ones (reports
  // over many ledger rows, and what seldom changes) at most every SLOW_MS. Each cycle waits at
  // least ten times as long as it last took: on a big ledger the page polls less often rather
  // than taking more of the gateway's time (at most about a tenth for each cycle).
  const fast = [
    [spend, 'spend'],
    [requests, 'requests'],
    [limits, 'limits'],
    [keys, 'keys'],
    [recent, 'recent'],
  ];
  const slow = [
    [spendTables, 'spend'],
    [tier, 'limits'],
    [routing, 'routing'],
    [batches, 'batches'],
    [audit, 'keys'],
  ];
  const SLOW_MS = 30_000;
  let slowAt = 0;
  let lastRefreshMs = 0;
  let lastSlowMs = 0;

  async function run(readers) {
    const failed = new Map();
    await Promise.all(
      readers.map(([load, section]) =>
        load().catch((error) => {
          failed.set(section, error.message);
        }),
      ),
    );
    for (const section of new Set(readers.map(([, name]) => name))) {
      const box = $(section);
      let note = box.querySelector('.load-error');
      if (!failed.has(section)) {
        note?.remove();
        continue;
      }
      if (!note) {
        note = el('p', { class: 'load-error error' });
        box.append(note);
      }
      note.textContent = `Could not load: ${failed.get(section)}`;
    }
  }

  async function refresh(everything = false) {
    if (busy) {
      // A change made on the page while a refresh runs is shown by one more right after it.
      again = true;
      return;
    }
    busy = true;
    const started = performance.now();
    // Slow readers first: the fast ones draw with what they fetched (the tier, the audit).
    if (everything || Date.now() - slowAt >= Math.max(SLOW_MS, lastSlowMs * 10)) {
      slowAt = Date.now();
      await run(slow);
      lastSlowMs = performance.now() - started;
    }
    const fastStarted = performance.now();
    await run(fast);
    lastRefreshMs = performance.now() - fastStarted;
    $('updated').textContent = `updated ${new Date().toLocaleTimeString()}`;
    $('updated').dataset.refreshed = String(Number($('updated').dataset.refreshed ?? 0) + 1);
    busy = false;
    if (again) {
      again = false;
      await refresh();
    }
  }

  function schedule() {
    clearTimeout(timer);
    timer = setTimeout(
      async () => {
        if (!document.hidden) await refresh();
        schedule();
      },
      Math.max(POLL_MS, lastRefreshMs * 10),
    );
  }

  $('range').addEventListener('change', () => refresh(true));
  $('spend-by').addEventListener('change', () => refresh());
  document.addEventListener('visibilitychange', () => {
    if (!document.hidden) refresh();
  });
  window.addEventListener('resize', () => {
    for (const [id, { plot }] of Object.entries(charts)) {
      const width = Math.max(260, $(id).clientWidth || 600);
      plot.setSize({ width, height: 220 });
    }
  });
  refresh(true).then(schedule);
})();
