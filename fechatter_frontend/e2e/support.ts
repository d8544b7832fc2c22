// Shared pieces of the end-to-end suite: settings from the environment, the browser, API calls
// that set up data, and polling helpers.
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { promisify } from 'node:util';

import { chromium, type Browser, type Page } from 'playwright-core';

const execFileAsync = promisify(execFile);

function required(name: string): string {
  const value = process.env[name];
  if (!value) {
    throw new Error(`${name} is not set; run the suite with scripts/frontend.sh e2e, which sets it`);
  }
  return value;
}

/** Origin that serves the client and proxies `/api` and `/events` (vite preview or the gateway). */
export const baseUrl = required('FECHATTER_E2E_BASE_URL').replace(/\/$/, '');
/** PostgreSQL database of the stack under test, for seeding large chats with SQL. */
export const databaseUrl = required('FECHATTER_E2E_DATABASE_URL');
export const screenshotDir = process.env.FECHATTER_E2E_SCREENSHOT_DIR ?? join(process.cwd(), 'e2e-screenshots');
const chromiumPath = process.env.FECHATTER_CHROMIUM ?? '/usr/bin/chromium';

/**
 * Launches Debian's Chromium. Playwright gives each launch a fresh temporary `--user-data-dir`
 * of its own (it rejects one passed in `args`), so no profile state carries over between runs.
 */
export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: chromiumPath,
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

/** Runs one of the shell commands that scripts/frontend.sh passes to stop or start notify_server. */
export async function runControlCommand(variable: 'FECHATTER_E2E_NOTIFY_STOP' | 'FECHATTER_E2E_NOTIFY_START'): Promise<void> {
  const command = required(variable);
  await execFileAsync('sh', ['-c', command], { timeout: 90_000 });
}

/** Runs SQL against the stack's database with psql and returns its unaligned output. */
export async function runSql(sql: string): Promise<string> {
  const { stdout } = await execFileAsync('psql', [databaseUrl, '-v', 'ON_ERROR_STOP=1', '-Atqc', sql], {
    timeout: 120_000,
    maxBuffer: 16 * 1024 * 1024,
  });
  return stdout.trim();
}

export interface Account {
  email: string;
  password: string;
  fullname: string;
  username: string;
  id: number;
  accessToken: string;
}

/** Calls the REST API through the base URL and returns the parsed JSON body. */
export async function apiCall<T>(method: string, path: string, body?: unknown, token?: string): Promise<T> {
  const headers: Record<string, string> = {};
  if (body !== undefined) {
    headers['content-type'] = 'application/json';
  }
  if (token) {
    headers.authorization = `Bearer ${token}`;
  }
  const response = await fetch(`${baseUrl}${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) {
    throw new Error(`${method} ${path} failed with ${response.status}: ${text}`);
  }
  return (text ? JSON.parse(text) : undefined) as T;
}

interface AuthBody {
  access_token: string;
  user: { id: number; username: string };
}

/** Signs up through the API; with `inviteCode` the account joins that workspace. */
export async function signUpByApi(
  fields: { email: string; password: string; fullname: string; username: string },
  workspace: { workspaceName: string } | { inviteCode: string },
): Promise<Account> {
  const body = {
    ...fields,
    ...('workspaceName' in workspace
      ? { workspace_name: workspace.workspaceName }
      : { invite_code: workspace.inviteCode }),
  };
  const response = await apiCall<AuthBody>('POST', '/api/signup', body);
  return { ...fields, id: response.user.id, accessToken: response.access_token };
}

export async function signInByApi(email: string, password: string): Promise<string> {
  const response = await apiCall<AuthBody>('POST', '/api/signin', { email, password });
  return response.access_token;
}

/** Polls `check` until it returns a truthy value or `timeoutMs` passes, then fails with `what`. */
export async function waitFor<T>(what: string, check: () => Promise<T> | T, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown = null;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value) {
        return value;
      }
    } catch (error) {
      lastError = error;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? `: ${String(lastError)}` : ''}`);
}

/** Signs in through the sign-in page and waits for the chat list. */
export async function signInByUi(page: Page, account: Pick<Account, 'email' | 'password'>): Promise<void> {
  await page.goto(`${baseUrl}/signin`);
  await page.getByLabel('Email').fill(account.email);
  await page.getByLabel('Password').fill(account.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('list', { name: 'Your chats' }).waitFor();
}

/** Count of rendered messages whose text is exactly `text`. */
export function countMessages(page: Page, text: string): Promise<number> {
  return page.locator('.message__text').filter({ hasText: new RegExp(`^\\s*${escapeRegExp(text)}\\s*$`) }).count();
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

export async function saveScreenshot(page: Page, name: string): Promise<string> {
  mkdirSync(screenshotDir, { recursive: true });
  const path = join(screenshotDir, name);
  await page.screenshot({ path, fullPage: false });
  return path;
}

const require = createRequire(import.meta.url);
const axeSource = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: Array<{ target: string[] }>;
}

/**
 * Runs axe-core on the page and returns the serious and critical violations. The script is
 * evaluated through the DevTools protocol, which the page's Content Security Policy does not block.
 */
export async function seriousAccessibilityViolations(page: Page): Promise<AxeViolation[]> {
  await page.evaluate(axeSource);
  const violations = await page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run: (context: Document) => Promise<{ violations: AxeViolation[] }> } }).axe;
    const result = await axe.run(document);
    return result.violations.map((violation) => ({
      id: violation.id,
      impact: violation.impact,
      help: violation.help,
      nodes: violation.nodes.map((node) => ({ target: node.target })),
    }));
  });
  return violations.filter((violation) => violation.impact === 'serious' || violation.impact === 'critical');
}
