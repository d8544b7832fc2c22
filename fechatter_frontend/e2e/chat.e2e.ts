// End-to-end tests of the web client against a running Fechatter stack. The tests run in order
// and build on each other: Ann signs up in the browser, Bob joins with an invite code, and they
// chat in two browser contexts.
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';

import {
  apiCall,
  baseUrl,
  countMessages,
  launchBrowser,
  runControlCommand,
  runSql,
  saveScreenshot,
  seriousAccessibilityViolations,
  signInByApi,
  signInByUi,
  waitFor,
  type Account,
} from './support';

/** Messages seeded into the large chat. */
const BULK_MESSAGES = 10_000;
/** Upper bound on message elements in the DOM while scrolling through the large chat. */
const MAX_MESSAGE_ELEMENTS = 300;

const runId = Date.now().toString(36);
const ann = {
  email: `ann.${runId}@example.com`,
  password: 'correct horse battery',
  fullname: 'Ann Lee',
  username: 'ann',
};
const bob = {
  email: `bob.${runId}@example.com`,
  password: 'battery staple horse',
  fullname: 'Bob Stone',
  username: 'bob',
};

let browser: Browser;
let annContext: BrowserContext;
let bobContext: BrowserContext;
let annPage: Page;
let bobPage: Page;
let annAccount: Account;
let bobAccount: Account;
let directChatId = 0;

async function openChat(page: Page, chatId: number): Promise<void> {
  await page.locator(`.chat-list__item[data-chat-id="${chatId}"] a`).click();
  await page.locator('.chat__title').waitFor();
  await page.getByRole('log', { name: 'Messages' }).waitFor();
}

async function sendFromComposer(page: Page, text: string): Promise<void> {
  const composer = page.getByRole('combobox', { name: 'Message' });
  await composer.fill(text);
  await composer.press('Enter');
}

beforeAll(async () => {
  browser = await launchBrowser();
  annContext = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  bobContext = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  annPage = await annContext.newPage();
  bobPage = await bobContext.newPage();
  for (const page of [annPage, bobPage]) {
    page.on('pageerror', (error) => console.error(`page error: ${error.message}`));
  }
});

afterAll(async () => {
  await browser?.close();
});

describe('web client', () => {
  test('signup creates a workspace', async () => {
    await annPage.goto(`${baseUrl}/signup`);
    await annPage.getByLabel('Workspace name').fill('Acme');
    await annPage.getByLabel('Full name').fill(ann.fullname);
    await annPage.getByLabel('Email').fill(ann.email);
    await annPage.getByLabel('Username (optional)').fill(ann.username);
    await annPage.getByLabel('Password').fill(ann.password);
    await annPage.getByRole('button', { name: 'Sign up' }).click();
    await annPage.getByRole('heading', { name: 'Welcome to Fechatter' }).waitFor();
    expect(await annPage.locator('.sidebar__workspace').textContent()).toBe('Acme');

    const token = await signInByApi(ann.email, ann.password);
    const me = await apiCall<{ id: number }>('GET', '/api/users/me', undefined, token);
    annAccount = { ...ann, id: me.id, accessToken: token };
  });

  test('invite code admits Bob through sign-up', async () => {
    await annPage.getByRole('link', { name: 'Invite people' }).click();
    await annPage.getByRole('button', { name: 'Create an invite code' }).click();
    const code = (await annPage.getByTestId('invite-code').first().textContent())?.trim() ?? '';
    expect(code.length).toBeGreaterThan(4);

    await bobPage.goto(`${baseUrl}/signup`);
    await bobPage.getByLabel('Join a workspace with an invite code').check();
    await bobPage.getByLabel('Invite code', { exact: true }).fill(code);
    await bobPage.getByLabel('Full name').fill(bob.fullname);
    await bobPage.getByLabel('Email').fill(bob.email);
    await bobPage.getByLabel('Username (optional)').fill(bob.username);
    await bobPage.getByLabel('Password').fill(bob.password);
    await bobPage.getByRole('button', { name: 'Sign up' }).click();
    await bobPage.getByRole('heading', { name: 'Welcome to Fechatter' }).waitFor();
    expect(await bobPage.locator('.sidebar__workspace').textContent()).toBe('Acme');
    await bobPage.getByRole('button', { name: 'Sign out' }).click();
    await bobPage.waitForURL(/\/signin$/);

    const token = await signInByApi(bob.email, bob.password);
    const me = await apiCall<{ id: number }>('GET', '/api/users/me', undefined, token);
    bobAccount = { ...bob, id: me.id, accessToken: token };
  });

  test('sign-in with a wrong password shows an error', async () => {
    await bobPage.goto(`${baseUrl}/signin`);
    await bobPage.getByLabel('Email').waitFor();
    await saveScreenshot(bobPage, 'sign-in.png');
    await bobPage.getByLabel('Email').fill(bob.email);
    await bobPage.getByLabel('Password').fill('not the password');
    await bobPage.getByRole('button', { name: 'Sign in' }).click();
    const alert = bobPage.getByRole('alert');
    await alert.waitFor();
    expect(await alert.textContent()).toContain('Wrong email or password');
    expect(new URL(bobPage.url()).pathname).toBe('/signin');
  });

  test('two users chat both ways in real time', async () => {
    await signInByUi(bobPage, bob);

    await annPage.getByRole('button', { name: 'New chat' }).click();
    const dialog = annPage.getByRole('dialog', { name: 'New chat' });
    await dialog.getByRole('radio', { name: /Bob Stone/ }).check();
    await dialog.getByRole('button', { name: 'Create' }).click();
    await annPage.waitForURL(/\/chats\/\d+$/);
    directChatId = Number(new URL(annPage.url()).pathname.split('/').pop());
    await annPage.getByRole('log', { name: 'Messages' }).waitFor();

    // The new chat reaches Bob's list through the event stream, without a reload.
    await bobPage.locator(`.chat-list__item[data-chat-id="${directChatId}"]`).waitFor({ timeout: 15_000 });
    await openChat(bobPage, directChatId);

    await sendFromComposer(annPage, 'Hello Bob, **welcome** to Acme!');
    await waitFor('Bob to see Ann’s message', async () => (await countMessages(bobPage, 'Hello Bob, welcome to Acme!')) === 1);
    expect(await bobPage.locator('.message__text strong').filter({ hasText: 'welcome' }).count()).toBe(1);

    await sendFromComposer(bobPage, 'Thanks Ann, glad to be here');
    await waitFor('Ann to see Bob’s reply', async () => (await countMessages(annPage, 'Thanks Ann, glad to be here')) === 1);
    expect(await countMessages(bobPage, 'Thanks Ann, glad to be here')).toBe(1);
  });

  test('typing indicator appears for the other user', async () => {
    const composer = bobPage.getByRole('combobox', { name: 'Message' });
    await composer.pressSequentially('I am typing slowly', { delay: 20 });
    const indicator = annPage.getByTestId('typing-indicator');
    await waitFor('Ann to see that Bob is typing', async () => (await indicator.textContent())?.includes('Bob Stone is typing'));
    await composer.fill('');
  });

  test('composer mention picker inserts a username', async () => {
    const composer = annPage.getByRole('combobox', { name: 'Message' });
    await composer.fill('');
    await composer.pressSequentially('ping @bo');
    const option = annPage.getByRole('option', { name: /Bob Stone/ });
    await option.waitFor();
    await composer.press('Enter');
    expect(await composer.inputValue()).toBe('ping @bob ');
    await composer.press('Enter');
    await waitFor('the mention to render for Bob', async () =>
      (await bobPage.locator('.message--mentions-me .mention').filter({ hasText: '@bob' }).count()) === 1,
    );
  });

  test('HTML payload renders as text and runs nothing', async () => {
    const payload = '<img src=x onerror="window.__fechatterXss=1"><script>window.__fechatterXss=2</script>';
    await sendFromComposer(bobPage, payload);
    await waitFor('Ann to receive the payload', async () => (await countMessages(annPage, payload)) === 1);
    const message = annPage.locator('.message__text').filter({ hasText: '<script>' });
    expect(await message.locator('img, script').count()).toBe(0);
    expect(await annPage.evaluate(() => (window as unknown as { __fechatterXss?: number }).__fechatterXss)).toBeUndefined();
    expect(await bobPage.evaluate(() => (window as unknown as { __fechatterXss?: number }).__fechatterXss)).toBeUndefined();
  });

  test('reload keeps the session and the history', async () => {
    await annPage.reload();
    await annPage.getByRole('log', { name: 'Messages' }).waitFor();
    await waitFor('history after reload', async () => (await countMessages(annPage, 'Thanks Ann, glad to be here')) === 1);
    expect(await countMessages(annPage, 'Hello Bob, welcome to Acme!')).toBe(1);
    expect(new URL(annPage.url()).pathname).toBe(`/chats/${directChatId}`);
    await waitFor('the stream to reconnect after reload', async () =>
      (await annPage.getByTestId('connection-status').textContent())?.includes('Connected'),
    );
  });

  test('stream drop replays each missed message once', async () => {
    expect(directChatId).toBeGreaterThan(0);
    const status = annPage.getByTestId('connection-status');
    await runControlCommand('FECHATTER_E2E_NOTIFY_STOP');
    await waitFor('Ann’s client to notice the drop', async () => (await status.textContent())?.includes('Reconnecting'), 20_000);

    const missed = ['missed one', 'missed two', 'missed three'];
    try {
      for (const text of missed) {
        await apiCall('POST', `/api/chats/${directChatId}/messages`, { content: text }, bobAccount.accessToken);
      }
    } finally {
      await runControlCommand('FECHATTER_E2E_NOTIFY_START');
    }
    await waitFor('Ann’s client to reconnect', async () => (await status.textContent())?.includes('Connected'), 45_000);
    for (const text of missed) {
      await waitFor(`"${text}" to appear`, async () => (await countMessages(annPage, text)) >= 1, 20_000);
    }
    // Give a duplicate delivery time to show up before counting.
    await annPage.waitForTimeout(1_500);
    for (const text of missed) {
      expect(await countMessages(annPage, text), text).toBe(1);
    }

    // The stream works live again after the reconnect.
    await sendFromComposer(bobPage, 'live after reconnect');
    await waitFor('a live message after the reconnect', async () => (await countMessages(annPage, 'live after reconnect')) === 1);

    // Ann has the chat open, so the messages on her screen are marked read and the badge goes away.
    const badge = annPage.locator(`.chat-list__item[data-chat-id="${directChatId}"] [data-testid="unread-badge"]`);
    await waitFor('the unread badge of the open chat to clear', async () => (await badge.count()) === 0);
  });

  test('reply, edit and delete reach the other user', async () => {
    const original = bobPage.locator('.message').filter({ hasText: 'Hello Bob, welcome to Acme!' });
    await original.hover();
    await original.getByRole('button', { name: 'Reply to Ann Lee' }).click();
    expect(await bobPage.locator('.composer__reply').textContent()).toContain('Replying to Ann Lee');
    await sendFromComposer(bobPage, 'Replying to your welcome');
    const reply = annPage.locator('.message').filter({ hasText: 'Replying to your welcome' });
    await reply.waitFor();
    expect(await reply.locator('.message__reply').textContent()).toContain('Ann Lee: Hello Bob');

    const mine = annPage.locator('.message').filter({ hasText: 'Hello Bob, welcome to Acme!' }).first();
    await mine.hover();
    await mine.getByRole('button', { name: 'Edit your message' }).click();
    const editor = annPage.getByLabel('Edit message');
    await editor.fill('Hello Bob, welcome to Acme! (edited text)');
    await editor.press('Enter');
    await waitFor('Bob to see the edit', async () => (await countMessages(bobPage, 'Hello Bob, welcome to Acme! (edited text)')) === 1);
    expect(await bobPage.locator('.message').filter({ hasText: '(edited text)' }).locator('.message__edited').count()).toBe(1);

    await sendFromComposer(annPage, 'this one will be deleted');
    const doomed = annPage.locator('.message[data-message-id]').filter({ hasText: 'this one will be deleted' });
    await doomed.waitFor();
    await waitFor('Bob to see the message before its deletion', async () => (await countMessages(bobPage, 'this one will be deleted')) === 1);
    const doomedId = await doomed.getAttribute('data-message-id');
    await doomed.hover();
    await doomed.getByRole('button', { name: 'Delete your message' }).click();
    await doomed.getByRole('button', { name: 'Delete', exact: true }).click();
    const tombstone = bobPage.locator(`.message[data-message-id="${doomedId}"] .message__deleted`);
    await waitFor('Bob to see the tombstone', async () => (await tombstone.count()) === 1);
    expect(await countMessages(bobPage, 'this one will be deleted')).toBe(0);
  });

  test('chat of 10,000 messages scrolls to its first message', async () => {
    const chat = await apiCall<{ id: number }>(
      'POST',
      '/api/chats',
      { chat_type: 'private_channel', name: 'release-train', members: [bobAccount.id] },
      annAccount.accessToken,
    );
    // SQL instead of 10,000 API calls: seconds instead of minutes. The rows follow the API's
    // rules: seq 1..N, chats.last_seq moved to N, and no outbox rows, because no client needs
    // live events for history.
    await runSql(`
      INSERT INTO messages (chat_id, seq, sender_id, content, created_at)
      SELECT ${chat.id}, g,
             CASE WHEN g % 3 = 0 THEN ${annAccount.id} ELSE ${bobAccount.id} END,
             CASE g % 5
               WHEN 0 THEN 'Build #' || g || ' passed on **main** in ' || (g % 17 + 3) || ' min'
               WHEN 1 THEN 'Message ' || g || ': deploying \`api-' || g || '\` to staging'
               WHEN 2 THEN 'Message ' || g || ' - can someone review the release notes?'
               WHEN 3 THEN 'Message ' || g || E'\\n> quoted from the on-call log\\nLooks fine to me.'
               ELSE 'Message ' || g || ' - merged, thanks @' || CASE WHEN g % 3 = 0 THEN 'bob' ELSE 'ann' END || '!'
             END,
             now() - make_interval(secs => ${BULK_MESSAGES} - g)
      FROM generate_series(1, ${BULK_MESSAGES}) AS g;
      UPDATE chats SET last_seq = ${BULK_MESSAGES}, last_activity_at = now() WHERE id = ${chat.id};
    `);
    expect(await runSql(`SELECT count(*) FROM messages WHERE chat_id = ${chat.id}`)).toBe(String(BULK_MESSAGES));

    // More chats, so the chat list screenshot shows each kind and a mention badge.
    const general = await apiCall<{ id: number }>(
      'POST',
      '/api/chats',
      { chat_type: 'public_channel', name: 'general', description: 'Company-wide announcements' },
      annAccount.accessToken,
    );
    await apiCall('POST', `/api/chats/${general.id}/join`, {}, bobAccount.accessToken);
    await apiCall('POST', `/api/chats/${general.id}/messages`, { content: '@ann can you check the _staging_ deploy?' }, bobAccount.accessToken);

    await annPage.goto(`${baseUrl}/`);
    await annPage.locator(`.chat-list__item[data-chat-id="${chat.id}"]`).waitFor();
    await waitFor('the mention badge', async () =>
      (await annPage.locator(`.chat-list__item[data-chat-id="${general.id}"] [data-testid="mention-badge"]`).count()) === 1,
    );
    await waitFor('unread badges in the chat list', async () =>
      (await annPage.locator(`.chat-list__item[data-chat-id="${chat.id}"] [data-testid="unread-badge"]`).count()) === 1,
    );
    await saveScreenshot(annPage, 'chat-list.png');

    await openChat(annPage, chat.id);
    await waitFor('the newest message', async () => (await annPage.locator(`[data-seq="${BULK_MESSAGES}"]`).count()) === 1);
    // Seeing the newest message marks the whole chat read.
    const bulkBadge = annPage.locator(`.chat-list__item[data-chat-id="${chat.id}"] [data-testid="unread-badge"]`);
    await waitFor('the large chat to be marked read', async () => (await bulkBadge.count()) === 0);
    await saveScreenshot(annPage, 'busy-chat.png');

    const log = annPage.getByRole('log', { name: 'Messages' });
    let maxElements = 0;
    const started = Date.now();
    await waitFor(
      'the first message after scrolling up',
      async () => {
        await log.evaluate((element) => {
          element.scrollTop = 0;
        });
        await annPage.waitForTimeout(50);
        const elements = await annPage.locator('.message').count();
        maxElements = Math.max(maxElements, elements);
        expect(elements).toBeLessThanOrEqual(MAX_MESSAGE_ELEMENTS);
        return (await annPage.locator('[data-seq="1"]').count()) === 1;
      },
      150_000,
    );
    console.log(
      `scrolled ${BULK_MESSAGES} messages to the first in ${Date.now() - started} ms; ` +
        `at most ${maxElements} message elements were in the DOM`,
    );
    expect(maxElements).toBeGreaterThan(0);
    expect(maxElements).toBeLessThanOrEqual(MAX_MESSAGE_ELEMENTS);
    expect(await annPage.locator('[data-seq="1"] .message__text').textContent()).toContain('Message 1');
  });

  test('channel is created, joined and managed', async () => {
    await annPage.goto(`${baseUrl}/`);
    await annPage.getByRole('button', { name: 'New chat' }).click();
    const dialog = annPage.getByRole('dialog', { name: 'New chat' });
    await dialog.getByLabel('Kind of chat').selectOption('public_channel');
    await dialog.getByLabel('Name').fill('random');
    await dialog.getByLabel('Description (optional)').fill('Anything goes');
    await dialog.getByRole('button', { name: 'Create' }).click();
    await annPage.waitForURL(/\/chats\/\d+$/);
    const channelId = Number(new URL(annPage.url()).pathname.split('/').pop());
    expect(await annPage.locator('.chat__title').textContent()).toBe('random');

    await bobPage.goto(`${baseUrl}/browse`);
    const row = bobPage.locator('.channel-list li').filter({ hasText: 'random' });
    await row.waitFor();
    expect(await row.textContent()).toContain('Anything goes');
    await row.getByRole('button', { name: 'Join random' }).click();
    await bobPage.waitForURL(new RegExp(`/chats/${channelId}$`));
    await sendFromComposer(bobPage, 'hello random');
    await waitFor('Ann to see Bob in the channel', async () => (await countMessages(annPage, 'hello random')) === 1);

    await annPage.getByRole('button', { name: 'Members' }).click();
    const panel = annPage.getByRole('complementary', { name: /Members/ });
    const bobRow = panel.locator('li').filter({ hasText: 'Bob Stone' });
    await bobRow.waitFor();
    await bobRow.getByLabel('Role of Bob Stone').selectOption('admin');
    await waitFor('Bob to become an admin', async () =>
      (await bobRow.locator('.member-list__role').textContent())?.includes('· admin'),
    );
    await bobRow.getByRole('button', { name: 'Remove Bob Stone from the chat' }).click();
    await waitFor('Bob to leave the member list', async () => (await panel.locator('li').filter({ hasText: 'Bob Stone' }).count()) === 0);
    // The removed member's list drops the channel through the event stream.
    await waitFor('the channel to leave Bob’s list', async () =>
      (await bobPage.locator(`.chat-list__item[data-chat-id="${channelId}"]`).count()) === 0,
    );
    // Bob still has the public channel open, now as a preview that offers to join again.
    await bobPage.getByRole('button', { name: 'Join channel' }).waitFor();
  });

  test('main screens have no serious accessibility violations', async () => {
    const anonymous = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const guestPage = await anonymous.newPage();
    const screens: Array<{ name: string; page: Page; open: () => Promise<unknown> }> = [
      { name: 'sign-in', page: guestPage, open: () => guestPage.goto(`${baseUrl}/signin`) },
      { name: 'sign-up', page: guestPage, open: () => guestPage.goto(`${baseUrl}/signup`) },
      { name: 'chat list', page: annPage, open: () => annPage.goto(`${baseUrl}/`) },
      { name: 'chat', page: annPage, open: () => annPage.goto(`${baseUrl}/chats/${directChatId}`) },
      { name: 'browse channels', page: annPage, open: () => annPage.goto(`${baseUrl}/browse`) },
      { name: 'settings', page: annPage, open: () => annPage.goto(`${baseUrl}/settings`) },
      { name: 'invite', page: annPage, open: () => annPage.goto(`${baseUrl}/invite`) },
    ];
    const report: string[] = [];
    for (const screen of screens) {
      await screen.open();
      await screen.page.locator('h1').first().waitFor();
      await screen.page.waitForTimeout(500);
      const violations = await seriousAccessibilityViolations(screen.page);
      for (const violation of violations) {
        report.push(`${screen.name}: ${violation.id} (${violation.impact}) ${violation.help} at ${JSON.stringify(violation.nodes.slice(0, 3))}`);
      }
    }
    await anonymous.close();
    expect(report).toEqual([]);
  });

  test('phone width shows the list and the chat in turn', async () => {
    const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
    const page = await phone.newPage();
    await signInByUi(page, ann);
    expect(await page.getByRole('list', { name: 'Your chats' }).isVisible()).toBe(true);
    await openChat(page, directChatId);
    expect(await page.getByRole('list', { name: 'Your chats' }).isVisible()).toBe(false);
    expect(await page.getByRole('combobox', { name: 'Message' }).isVisible()).toBe(true);
    await page.getByRole('link', { name: 'Back to chats' }).click();
    await page.getByRole('list', { name: 'Your chats' }).waitFor();
    await phone.close();
  });

  test('settings change the profile and the password', async () => {
    await annPage.goto(`${baseUrl}/settings`);
    await annPage.getByLabel('Full name').fill('Ann Lee-Park');
    await annPage.getByRole('button', { name: 'Save profile' }).click();
    await annPage.getByText('Profile saved.').waitFor();
    expect(await annPage.locator('.sidebar__user').textContent()).toContain('Ann Lee-Park');

    await annPage.getByLabel('Current password').fill('not my password');
    await annPage.getByLabel('New password', { exact: true }).fill('a brand new password');
    await annPage.getByLabel('Repeat the new password').fill('a brand new password');
    await annPage.getByRole('button', { name: 'Change password' }).click();
    const alert = annPage.getByRole('alert');
    await alert.waitFor();
    expect(await alert.textContent()).toContain('current password is wrong');

    await annPage.getByLabel('Current password').fill(ann.password);
    await annPage.getByRole('button', { name: 'Change password' }).click();
    await annPage.getByText('Password changed.').waitFor();
    // The page keeps working with the pair that the password change returned.
    await bobPage.goto(`${baseUrl}/chats/${directChatId}`);
    await bobPage.getByRole('log', { name: 'Messages' }).waitFor();
    await annPage.goto(`${baseUrl}/chats/${directChatId}`);
    await sendFromComposer(annPage, 'after the password change');
    await waitFor('the message to be confirmed', async () =>
      (await annPage.locator('.message[data-message-id]').filter({ hasText: 'after the password change' }).count()) === 1,
    );
    await waitFor('Bob to receive it', async () => (await countMessages(bobPage, 'after the password change')) === 1);
    expect(await signInByApi(ann.email, 'a brand new password')).toBeTruthy();
  });
});
