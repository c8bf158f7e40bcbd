/** Opens a self-contained HTML report in headless Chromium and waits until its charts are drawn (or failed). */
import type { Browser } from 'puppeteer-core';
import { HANG_GUARD_MS } from './hang-guard.js';

export interface DrawnReport {
  /** window.__chartsDrawn: how many charts rendered (undefined if drawing failed). */
  drawn: number | undefined;
  /** window.__chartError: why drawing failed. */
  error: string | undefined;
  /** Uncaught errors in the page. */
  pageErrors: string[];
  /** Rows of every <tbody> in the page. */
  tableRows: number;
  tables: number;
}

export async function drawReport(browser: Browser, html: string): Promise<DrawnReport> {
  const page = await browser.newPage();
  try {
    const pageErrors: string[] = [];
    page.on('pageerror', (e) => pageErrors.push(String(e)));
    await page.setContent(html, { waitUntil: 'load' });
    await page.waitForFunction(
      () => {
        const w = window as unknown as { __chartsDrawn?: number; __chartError?: string };
        return w.__chartsDrawn !== undefined || w.__chartError !== undefined;
      },
      { timeout: HANG_GUARD_MS, polling: 50 },
    );
    const state = await page.evaluate(() => {
      const w = window as unknown as { __chartsDrawn?: number; __chartError?: string };
      return {
        drawn: w.__chartsDrawn,
        error: w.__chartError,
        tableRows: document.querySelectorAll('tbody tr').length,
        tables: document.querySelectorAll('table').length,
      };
    });
    return { ...state, pageErrors };
  } finally {
    await page.close();
  }
}
