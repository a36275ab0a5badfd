// Clicks through the demo SPA in headless Chromium: the SPA flow, log out, log in again, the
// server flow, and two tabs of one browser logging in at once. Prints one JSON report on stdout; exits non-zero on the first failed step.
//
// Environment: APP (the demo's origin), USER_LOGIN/USER_PASSWORD, SHOTS (screenshot folder),
// CHROMIUM (default /usr/bin/chromium).

import { mkdirSync } from 'node:fs';
import { chromium } from 'playwright-core';

const app = process.env.APP;
const login = process.env.USER_LOGIN || 'alice';
const password = process.env.USER_PASSWORD || 'alice';
const shots = process.env.SHOTS || '.';
mkdirSync(shots, { recursive: true });

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync'],
});
const report = { steps: [], api: [] };
let page;
const step = (name, data = {}) => report.steps.push({ name, ...data });

try {
  const context = await browser.newContext();
  page = await context.newPage();
  page.setDefaultTimeout(30_000);
  // Every answer of the API, headers and body, for the "no provider token" check.
  page.on('response', async (resp) => {
    const path = new URL(resp.url()).pathname;
    if (!path.startsWith('/api/') && !path.startsWith('/authorization-code/')) return;
    let body = '';
    try { body = await resp.text(); } catch { /* redirects have no body */ }
    report.api.push({ path, status: resp.status(), headers: await resp.allHeaders(), body });
  });
  const addresses = [];
  page.on('framenavigated', (frame) => { if (frame === page.mainFrame()) addresses.push(frame.url()); });

  // Passes the provider: signs in if it asks (login form, then consent), until `done` shows on
  // the app. A remembered provider session skips both forms.
  let sawLoginForm = false;
  async function throughProvider(done, tab = page) {
    sawLoginForm = false;
    for (let i = 0; i < 6; i++) {
      await tab.locator(`input[name="login"], form[action*="/interaction/"] button, ${done}`).first().waitFor();
      if (await tab.locator(done).count()) return;
      const submit = tab.locator('form[action*="/interaction/"] button[type="submit"]').first();
      if (await tab.locator('input[name="login"]').count()) {
        sawLoginForm = true;
        await tab.fill('input[name="login"]', login);
        await tab.fill('input[name="password"]', password);
      }
      await Promise.all([tab.waitForNavigation(), submit.click()]);
    }
    throw new Error(`the provider did not hand back to the app (at ${tab.url()})`);
  }
  const transactionCookies = (all) => all.filter((c) => c.name.startsWith('__Host-oidc-tx-')).length;

  // Clicks Log out: the API answers the provider's logout URL, the page goes there, the
  // provider asks to confirm, then sends the browser back to the app, signed out. Returns what
  // the tab still stores.
  async function logOut() {
    const appOrigin = new URL(app).origin;
    await Promise.all([page.waitForURL((u) => u.origin !== appOrigin), page.click('#logout')]);
    await Promise.all([
      page.waitForURL((u) => u.origin === appOrigin),
      page.click('button[name="logout"][value="yes"]'),
    ]);
    await page.waitForSelector('body[data-state="signed-out"]');
    return page.evaluate(() => sessionStorage.getItem('oidc-demo.session'));
  }

  // 1. SPA flow.
  await page.goto(app + '/');
  await page.waitForSelector('body[data-state="signed-out"]');
  await page.click('#login');
  await throughProvider('body[data-state="signed-in"]');
  const user = await page.textContent('#user');
  const claims = JSON.parse(await page.textContent('#claims'));
  const callbackAddresses = addresses.filter((a) => new URL(a).pathname === '/callback');
  await page.screenshot({ path: `${shots}/spa-signed-in.png`, fullPage: true });
  step('spa', { user, claims, url: page.url(), callbackAddresses, status: await page.textContent('#status') });

  // The address bar lost code and state at once; history holds no code either.
  const historyHasCode = await page.evaluate(() => location.search.includes('code='));
  step('address-bar', { historyHasCode });

  // 2. Log out (here and at the provider, which asks to confirm), then log in again: the
  // provider's session is gone, so it asks for the password again.
  const stored = await logOut();
  step('logout', { stored, url: page.url() });
  await page.click('#login');
  await throughProvider('body[data-state="signed-in"]');
  step('login-again', { user: await page.textContent('#user'), askedPassword: sawLoginForm });

  // 3. Server flow.
  await logOut();
  await page.click('#server-login');
  await throughProvider('#server-flow');
  const cookies = await context.cookies();
  const session = cookies.find((c) => c.name === '__Host-session');
  await page.screenshot({ path: `${shots}/server-signed-in.png`, fullPage: true });
  // The page asks /api/me (with the cookie it cannot read) and shows the claims or a note.
  await page.waitForFunction(() => document.querySelector('#me-claims')
    || !document.querySelector('#me-note')?.textContent?.startsWith('Asking'));
  const me = (await page.locator('#me-claims').count()) ? JSON.parse(await page.textContent('#me-claims')) : null;
  step('server', {
    me,
    url: page.url(),
    heading: await page.textContent('#server-flow h2'),
    session: session && { httpOnly: session.httpOnly, secure: session.secure, sameSite: session.sameSite, value: session.value },
    transactionCookiesLeft: transactionCookies(cookies),
  });

  // 4. Two tabs of one fresh browser both start a login and stop at the provider's login form;
  // the second tab signs in first, then the first. Both complete.
  const twoTabs = await browser.newContext();
  const tabs = [await twoTabs.newPage(), await twoTabs.newPage()];
  for (const tab of tabs) {
    tab.setDefaultTimeout(30_000);
    await tab.goto(app + '/');
    await tab.waitForSelector('body[data-state="signed-out"]');
    await Promise.all([tab.waitForSelector('input[name="login"]'), tab.click('#login')]);
  }
  const inFlight = transactionCookies(await twoTabs.cookies());
  const users = [];
  for (const tab of [tabs[1], tabs[0]]) {
    await throughProvider('body[data-state="signed-in"], body[data-state="error"]', tab);
    users.push({ user: await tab.textContent('#user').catch(() => null), url: tab.url(),
      error: await tab.locator('#error').textContent().catch(() => null) });
  }
  step('two-tabs', { inFlight, users, transactionCookiesLeft: transactionCookies(await twoTabs.cookies()) });
  report.ok = true;
} catch (err) {
  report.ok = false;
  report.error = String(err && err.stack || err);
  if (page) {
    report.failedAt = page.url();
    report.failedPage = (await page.textContent('body').catch(() => '')).slice(0, 2000);
    await page.screenshot({ path: `${shots}/failure.png`, fullPage: true }).catch(() => {});
  }
} finally {
  await browser.close();
}
console.log(JSON.stringify(report));
process.exit(report.ok ? 0 : 1);
