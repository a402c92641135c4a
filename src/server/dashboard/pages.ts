/** The dashboard's two HTML pages. Neither carries a secret: the session is in an HTTP-only cookie. */

const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

const head = (title: string, extra = '') => `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>${escapeHtml(title)}</title>
<link rel="stylesheet" href="/dashboard/static/dashboard.css">
${extra}</head>`;

export function loginPage(message?: string): string {
  return `${head('Sluice dashboard: log in')}
<body class="login">
<main>
<h1>Sluice</h1>
<form method="post" action="/dashboard/login" autocomplete="off">
<label for="token">Admin token</label>
<input id="token" name="token" type="password" required autofocus autocomplete="off" spellcheck="false">
<button type="submit">Log in</button>
${message ? `<p class="error" role="alert" data-testid="login-error">${escapeHtml(message)}</p>` : ''}
</form>
<p class="hint">The token is <code>SLUICE_ADMIN_TOKEN</code>, as for the admin API.</p>
</main>
</body>
</html>
`;
}

export function disabledPage(): string {
  return `${head('Sluice dashboard')}
<body class="login"><main><h1>Sluice</h1>
<p class="error">The dashboard is off: set <code>SLUICE_ADMIN_TOKEN</code> to enable it (and the admin API).</p>
</main></body></html>
`;
}

/** The dashboard itself; its script fills the sections from `/dashboard/admin/…`. */
export function appPage(csrf: string): string {
  return `${head(
    'Sluice dashboard',
    `<meta name="sluice-csrf" content="${escapeHtml(csrf)}">
<link rel="stylesheet" href="/dashboard/static/uPlot.min.css">
<script src="/dashboard/static/uPlot.iife.min.js" defer></script>
<script src="/dashboard/static/dashboard.js" defer></script>
`,
  )}
<body>
<header>
<h1>Sluice</h1>
<label>Range <select id="range" data-testid="range">
<option value="1h">1 hour</option>
<option value="24h" selected>24 hours</option>
<option value="7d">7 days</option>
<option value="30d">30 days</option>
</select></label>
<span id="updated" class="muted" data-testid="updated">loading…</span>
<form method="post" action="/dashboard/logout" class="logout">
<input type="hidden" name="csrf" value="${escapeHtml(csrf)}">
<button type="submit" data-testid="logout">Log out</button>
</form>
</header>
<main>
<section id="spend">
<h2>Spend</h2>
<div class="figures">
<div><span class="label">Total</span><span class="figure" data-testid="spend-total">–</span></div>
<div><span class="label">Requests</span><span class="figure" data-testid="spend-requests">–</span></div>
<div><span class="label">Cache savings</span><span class="figure" data-testid="cache-savings">–</span></div>
</div>
<div class="toolbar">By <select id="spend-by" data-testid="spend-by">
<option value="model">model</option><option value="key">key</option><option value="env">environment</option>
</select></div>
<div class="chart" id="spend-chart"></div>
<h3>Cumulative spend and budgets</h3>
<div class="chart" id="budget-chart"></div>
<div class="table"><table id="budgets" data-testid="budgets"></table></div>
<div id="alerts" data-testid="alerts"></div>
<h3>By key</h3>
<div class="table"><table id="spend-keys" data-testid="spend-keys"></table></div>
<h3>By model</h3>
<div class="table"><table id="spend-models" data-testid="spend-models"></table></div>
<h3>By environment</h3>
<div class="table"><table id="spend-envs" data-testid="spend-envs"></table></div>
</section>
<section id="requests">
<h2>Requests and errors</h2>
<div class="figures" id="outcomes" data-testid="outcomes"></div>
<div class="chart" id="requests-chart"></div>
</section>
<section id="limits">
<h2>Rate limits and queue</h2>
<p class="muted" id="tier-line"></p>
<div class="table"><table id="pools" data-testid="pools"></table></div>
<div class="chart" id="queue-chart"></div>
<ul id="tier-warnings" class="warnings"></ul>
</section>
<section id="routing">
<h2>Routing</h2>
<div class="figures" id="routing-figures" data-testid="routing"></div>
<div class="table"><table id="routing-tiers"></table></div>
</section>
<section id="batches">
<h2>Batches and deferred work</h2>
<div id="batches-body" data-testid="batches"></div>
</section>
<section id="keys">
<h2>Keys</h2>
<form id="create-key" class="inline" data-testid="create-key">
<input name="name" placeholder="name, e.g. prod-billing-api" required aria-label="name">
<input name="environment" placeholder="environment" value="production" required aria-label="environment">
<input name="rpm" type="number" min="1" placeholder="rpm (optional)" aria-label="requests per minute">
<button type="submit">Create key</button>
</form>
<div id="secret" class="secret" hidden data-testid="secret-box">
<p>The new secret, shown this once: copy it now.</p>
<code id="secret-value" data-testid="secret"></code>
<button type="button" id="secret-done">Done</button>
</div>
<p id="key-message" class="error" role="alert"></p>
<div class="table"><table id="key-table" data-testid="keys"></table></div>
<p id="audit-line" class="muted" data-testid="audit"></p>
</section>
<section id="recent">
<h2>Recent requests</h2>
<div class="table"><table id="recent-table" data-testid="recent"></table></div>
</section>
</main>
</body>
</html>
`;
}
