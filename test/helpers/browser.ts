import { type Browser, chromium } from 'playwright-core';

/**
 * Debian's Chromium, headless (playwright-core downloads no browser). Without the
 * background-networking switches, Chromium's own connections are refused by a closed network,
 * many at a time.
 */
export function launchChromium(executablePath = '/usr/bin/chromium'): Promise<Browser> {
  return chromium.launch({
    executablePath,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}
