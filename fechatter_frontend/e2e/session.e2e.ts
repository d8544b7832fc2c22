// Token refresh across tabs. scripts/frontend.sh runs the stack with 75-second access tokens, so
// the client refreshes 15 s after each sign-in or refresh and this test observes several rotations.
import type { Browser, Request } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';

import { apiCall, baseUrl, launchBrowser, signInByUi, signUpByApi, waitFor } from './support';

/** Access token lifetime that scripts/frontend.sh configures for the e2e stack, in seconds. */
const ACCESS_TOKEN_TTL_SECONDS = Number(process.env.FECHATTER_E2E_ACCESS_TOKEN_TTL ?? 900);

let browser: Browser;

beforeAll(async () => {
  browser = await launchBrowser();
});

afterAll(async () => {
  await browser?.close();
});

describe('session', () => {
  test.skipIf(ACCESS_TOKEN_TTL_SECONDS > 120)('two tabs share refreshes and sign-out', async () => {
    const runId = Date.now().toString(36);
    const account = {
      email: `cara.${runId}@example.com`,
      password: 'refresh me twice please',
      fullname: 'Cara Diaz',
      username: 'cara',
    };
    const cara = await signUpByApi(account, { workspaceName: 'Refresh Co' });
    const chat = await apiCall<{ id: number }>(
      'POST',
      '/api/chats',
      { chat_type: 'private_channel', name: 'notes' },
      cara.accessToken,
    );

    const context = await browser.newContext();
    const presented: string[] = [];
    context.on('request', (request: Request) => {
      if (request.method() === 'POST' && new URL(request.url()).pathname === '/api/refresh') {
        presented.push((request.postDataJSON() as { refresh_token: string }).refresh_token);
      }
    });
    const first = await context.newPage();
    await signInByUi(first, account);
    const second = await context.newPage();
    await second.goto(`${baseUrl}/chats/${chat.id}`);
    await second.getByRole('log', { name: 'Messages' }).waitFor();

    // Two rotations: the first one is due 15 s after sign-in, the next 15 s after it.
    const rotations = 2;
    await waitFor(
      `${rotations} token refreshes`,
      () => presented.length >= rotations,
      (ACCESS_TOKEN_TTL_SECONDS - 60) * 1000 * (rotations + 1) + 10_000,
    );

    // Presenting one refresh token twice would revoke the whole sign-in after the grace window.
    expect(new Set(presented).size).toBe(presented.length);
    const stored = await Promise.all(
      [first, second].map((page) => page.evaluate(() => localStorage.getItem('fechatter.tokens'))),
    );
    expect(stored[0]).toBe(stored[1]);

    for (const [index, page] of [first, second].entries()) {
      await page.goto(`${baseUrl}/chats/${chat.id}`);
      const composer = page.getByRole('combobox', { name: 'Message' });
      await composer.fill(`still signed in, tab ${index + 1}`);
      await composer.press('Enter');
      await waitFor(`tab ${index + 1} to send after the refreshes`, async () =>
        (await page.locator('.message[data-message-id]').filter({ hasText: `still signed in, tab ${index + 1}` }).count()) === 1,
      );
    }

    // Signing out in one tab signs out the other one too.
    await first.getByRole('button', { name: 'Sign out' }).click();
    await first.waitForURL(/\/signin$/);
    await second.waitForURL(/\/signin$/);
    expect(await second.evaluate(() => localStorage.getItem('fechatter.tokens'))).toBeNull();
    await context.close();
  });
});
