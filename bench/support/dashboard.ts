/**
 * The dashboard open in Debian's Chromium during a benchmark, as an operator would leave it: logged
 * in, polling every 5 seconds. `BENCH_DASHBOARD=1 npm run bench:gateway` measures Sluice with it.
 */
import { launchChromium } from '../../test/helpers/browser.js';

export const BENCH_ADMIN_TOKEN = 'bench-admin-token-0123456789abcdef';

export async function openDashboard(
  url: string,
): Promise<{ refreshes(): Promise<number>; close(): Promise<void> }> {
  const browser = await launchChromium(process.env.BENCH_CHROMIUM ?? '/usr/bin/chromium');
  const page = await browser.newPage();
  await page.goto(`${url}/dashboard`);
  await page.fill('#token', BENCH_ADMIN_TOKEN);
  await page.click('button[type=submit]');
  await page.getByTestId('spend-total').waitFor();
  return {
    refreshes: async () => Number(await page.getByTestId('updated').getAttribute('data-refreshed')),
    close: () => browser.close(),
  };
}
