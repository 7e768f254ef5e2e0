import { chromium } from 'playwright-core';
import type { Browser, Page } from 'playwright-core';

/**
 * The browser of the page tests: Debian's Chromium, headless, with nothing
 * that phones home. Tests that need it skip when it is missing.
 */

/** The browser binary; CHROMIUM_PATH overrides it (a missing path skips the browser tests). */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Headless Chromium from the system (Debian's package), with nothing that phones home. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

/** A desktop-sized page that records console errors and every request not to `base`. */
export async function watchedPage(browser: Browser, base: string, consoleErrors: string[], foreignRequests: string[]): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1600, height: 1000 }, colorScheme: 'dark' });
  page.on('console', (m) => {
    if (m.type() === 'error') consoleErrors.push(m.text());
  });
  page.on('pageerror', (e) => consoleErrors.push(e.message));
  page.on('request', (r) => {
    if (!r.url().startsWith(base) && !r.url().startsWith('data:')) foreignRequests.push(r.url());
  });
  return page;
}
