// Clicks through the demo SPA in headless Chromium. Prints one JSON report on stdout; exits
// non-zero on the first failed step. FLOW selects what runs:
//
// - `logins` (the default): the SPA flow, log out, log in again, the server flow, and two tabs
//   of one browser logging in at once;
// - `session`: with server-side sessions, one SPA login kept for STAY_SECONDS by the page's
//   refreshes (a reload in the middle), a second tab that resumes the session, and a logout in
//   the first tab that ends it in the second; then a new login that the user ends at the
//   provider's own end-session page, which reaches the backend over the back channel.
//   Needs PROVIDER (the provider's origin).
// - `lemonldap`: against LemonLDAP::NG (USER_LOGIN/USER_PASSWORD dwho): the SPA flow through
//   its login form, then log out through its confirmation page, then Log in again, which
//   shows its login form again (the provider's session ended).
// - `two-providers`: the demo offers both providers (DEMO_PROVIDERS local, lemon): Sign in with
//   LemonLDAP::NG as dwho, log out (through its confirmation page), then Sign in with the local
//   provider as alice.
//
// Environment: APP (the demo's origin), USER_LOGIN/USER_PASSWORD, SHOTS (screenshot folder),
// CHROMIUM (default /usr/bin/chromium).

import { mkdirSync } from 'node:fs';
import { chromium } from 'playwright-core';

const app = process.env.APP;
const appOrigin = new URL(app).origin;
let login = process.env.USER_LOGIN || 'alice';
let password = process.env.USER_PASSWORD || 'alice';
const shots = process.env.SHOTS || '.';
mkdirSync(shots, { recursive: true });

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync'],
});
const report = { steps: [], api: [] };
/** The tab a failure is reported from. */
let page;
const step = (name, data = {}) => report.steps.push({ name, ...data });
const STORAGE_KEY = 'oidc-demo.session';

/** A new tab of `context` whose every answer of the API, headers and body, goes to the report
 *  (for the "no provider token" check). */
async function newTab(context) {
  const tab = await context.newPage();
  tab.setDefaultTimeout(30_000);
  tab.on('response', async (resp) => {
    const path = new URL(resp.url()).pathname;
    if (!path.startsWith('/api/') && !path.startsWith('/authorization-code/')) return;
    let body = '';
    try { body = await resp.text(); } catch { /* redirects have no body */ }
    report.api.push({ path, status: resp.status(), headers: await resp.allHeaders(), body });
  });
  return tab;
}

// The providers' login forms: oidc-provider's (its interaction pages, consent included) and
// LemonLDAP::NG's (#lform, whose hidden CSRF token the page itself carries).
const LOGIN_FORMS = [
  { user: 'input[name="login"]', password: 'input[name="password"]',
    submit: 'form[action*="/interaction/"] button[type="submit"]', page: 'form[action*="/interaction/"] button' },
  { user: '#userfield', password: '#passwordfield', submit: '#lform button[type=submit]', page: '#lform' },
];

// Passes the provider: signs in if it asks (login form, then consent), until `done` shows on
// the app. A remembered provider session skips both forms.
let sawLoginForm = false;
async function throughProvider(done, tab = page) {
  sawLoginForm = false;
  const pages = LOGIN_FORMS.flatMap((f) => [f.user, f.page]).join(', ');
  for (let i = 0; i < 6; i++) {
    await tab.locator(`${pages}, ${done}`).first().waitFor();
    if (await tab.locator(done).count()) return;
    let form = LOGIN_FORMS[0];
    for (const f of LOGIN_FORMS) if (await tab.locator(f.page).count()) form = f;
    if (await tab.locator(form.user).count()) {
      sawLoginForm = true;
      await tab.fill(form.user, login);
      await tab.fill(form.password, password);
    }
    await Promise.all([tab.waitForNavigation(), tab.locator(form.submit).first().click()]);
  }
  throw new Error(`the provider did not hand back to the app (at ${tab.url()})`);
}
const transactionCookies = (all) => all.filter((c) => c.name.startsWith('__Host-oidc-tx-')).length;

// Clicks Log out: the API answers the provider's logout URL, the page goes there, the
// provider asks to confirm, then sends the browser back to the app, signed out. Returns what
// the tab still stores.
async function logOut(tab = page) {
  await Promise.all([tab.waitForURL((u) => u.origin !== appOrigin), tab.click('#logout')]);
  await Promise.all([
    tab.waitForURL((u) => u.origin === appOrigin),
    // oidc-provider's "Yes, sign me out", LemonLDAP::NG's "Accept".
    tab.click('button[name="logout"][value="yes"], form#form button.positive'),
  ]);
  await tab.waitForSelector('body[data-state="signed-out"]');
  return tab.evaluate((key) => sessionStorage.getItem(key), STORAGE_KEY);
}

async function logins() {
  const context = await browser.newContext();
  page = await newTab(context);
  const addresses = [];
  page.on('framenavigated', (frame) => { if (frame === page.mainFrame()) addresses.push(frame.url()); });

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
  const tabs = [await newTab(twoTabs), await newTab(twoTabs)];
  for (const tab of tabs) {
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
}

/** What a tab shows and holds: its state, the user shown, and the claims of the token it keeps. */
async function held(tab) {
  const seen = await tab.evaluate((key) => ({
    state: document.body.dataset.state,
    user: document.querySelector('#user')?.textContent ?? null,
    status: document.querySelector('#status')?.textContent ?? null,
    claimsShown: document.querySelector('#claims') !== null,
    stored: sessionStorage.getItem(key),
  }), STORAGE_KEY);
  const token = seen.stored && JSON.parse(seen.stored).token;
  const claims = token ? JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString()) : null;
  return { ...seen, stored: seen.stored !== null, claims };
}

/** Runs `action` in `tab` and returns the status of the /api/refresh answer it causes. */
async function refreshDuring(tab, action) {
  const [resp] = await Promise.all([
    tab.waitForResponse((r) => new URL(r.url()).pathname === '/api/refresh', { timeout: 90_000 }),
    action(),
  ]);
  return resp.status();
}

async function session() {
  const provider = new URL(process.env.PROVIDER).origin;
  const stayMs = Number(process.env.STAY_SECONDS || 190) * 1000;
  const context = await browser.newContext();
  // Every request any tab makes to the provider, with the phase of the run it happened in.
  let phase = 'sign-in';
  const providerRequests = [];
  context.on('request', (req) => {
    const url = new URL(req.url());
    if (url.origin === provider) providerRequests.push({ phase, path: url.pathname });
  });
  page = await newTab(context);

  // 1. One SPA login through the provider's form.
  await page.goto(app + '/');
  await page.waitForSelector('body[data-state="signed-out"]');
  await page.click('#login');
  await throughProvider('body[data-state="signed-in"]');
  step('sign-in', { askedPassword: sawLoginForm, ...(await held(page)) });

  // 2. Stay on the app, looking at what it shows and holds every few seconds; reload once
  // half way: the page resumes its session through /api/refresh.
  phase = 'stay';
  const started = Date.now();
  const samples = [];
  let reloaded = false;
  while (Date.now() - started < stayMs) {
    await page.waitForTimeout(5_000);
    samples.push({ t: Math.round((Date.now() - started) / 1000), ...(await held(page)) });
    if (!reloaded && Date.now() - started > stayMs / 2) {
      reloaded = true;
      phase = 'reload';
      const before = await page.evaluate((key) => sessionStorage.getItem(key), STORAGE_KEY);
      const refresh = await refreshDuring(page, () => page.reload());
      if (refresh === 200) {
        // The page shows the user with the token it was just given.
        await page.waitForFunction(([key, old]) => document.body.dataset.state === 'signed-in'
          && ![null, old].includes(sessionStorage.getItem(key)), [STORAGE_KEY, before]);
      }
      step('reload', { refresh, ...(await held(page)) });
      phase = 'stay';
    }
  }
  await page.screenshot({ path: `${shots}/session-kept.png`, fullPage: true });
  step('stay', { samples });

  // 3. A second tab of the same browser: no token in its storage, it resumes the session.
  phase = 'second-tab';
  const second = await newTab(context);
  const resumed = await refreshDuring(second, () => second.goto(app + '/'));
  await second.waitForSelector('body[data-state="signed-in"]');
  await second.screenshot({ path: `${shots}/second-tab-signed-in.png`, fullPage: true });
  step('second-tab', { refresh: resumed, ...(await held(second)) });

  // 4. Log out in the first tab (through the provider's confirmation); the second tab learns
  // at its next scheduled refresh that the session has ended.
  phase = 'logout';
  await page.bringToFront();
  const stored = await logOut(page);
  step('logout', { stored, url: page.url() });
  phase = 'after-logout';
  const ended = await refreshDuring(second, () => second.waitForSelector('#session-ended', { timeout: 90_000 }));
  await second.screenshot({ path: `${shots}/second-tab-session-ended.png`, fullPage: true });
  step('second-tab-ended', {
    refresh: ended,
    heading: await second.textContent('#signed-out h2'),
    ...(await held(second)),
  });

  // 5. Back-channel logout: sign in again, then end the session at the provider itself, in a
  // tab of the provider alone (its end-session page, not our logout). The provider tells the
  // backend over the back channel; the token the app still holds is refused at once by
  // /api/me (SESSION_CHECK=strict), and the app's next refresh finds the session gone.
  phase = 'sign-in-again';
  await page.bringToFront();
  await page.click('#login');
  await throughProvider('body[data-state="signed-in"]');
  const again = await held(page);
  const token = JSON.parse(await page.evaluate((key) => sessionStorage.getItem(key), STORAGE_KEY)).token;
  const meStatus = () => page.evaluate(async (bearer) => {
    const resp = await fetch('/api/me', { headers: { Authorization: `Bearer ${bearer}` } });
    return { status: resp.status, body: await resp.json().catch(() => null) };
  }, token);
  const meBefore = await meStatus();
  phase = 'provider-logout';
  const discovery = await (await fetch(`${provider}/.well-known/openid-configuration`)).json();
  const idp = await context.newPage();
  await idp.goto(discovery.end_session_endpoint);
  await Promise.all([idp.waitForNavigation(), idp.click('button[name="logout"][value="yes"]')]);
  const providerPage = (await idp.textContent('body')).trim().slice(0, 200);
  await idp.close();
  phase = 'after-provider-logout';
  const meAfter = await meStatus();
  const refresh = await refreshDuring(page, () => page.reload());
  await page.waitForSelector('#session-ended');
  await page.screenshot({ path: `${shots}/ended-at-provider.png`, fullPage: true });
  step('ended-at-provider', {
    signedInAgain: { askedPassword: sawLoginForm, ...again },
    meBefore,
    providerPage,
    meAfter,
    refresh,
    heading: await page.textContent('#signed-out h2'),
    ...(await held(page)),
  });
  report.providerRequests = providerRequests;
}

async function lemonldap() {
  const context = await browser.newContext();
  page = await newTab(context);
  await page.goto(app + '/');
  await page.waitForSelector('body[data-state="signed-out"]');
  await page.click('#login');
  await throughProvider('body[data-state="signed-in"]');
  const claims = JSON.parse(await page.textContent('#claims'));
  const sso = (await context.cookies()).find((c) => c.name === 'lemonldap');
  await page.screenshot({ path: `${shots}/lemonldap-signed-in.png`, fullPage: true });
  step('spa', { user: await page.textContent('#user'), claims, askedPassword: sawLoginForm,
    ssoCookie: Boolean(sso) });
  const stored = await logOut();
  step('logout', { stored, url: page.url() });
  await page.click('#login');
  await page.locator('#userfield, body[data-state="signed-in"]').first().waitFor();
  step('login-again', { askedPassword: (await page.locator('#userfield').count()) > 0 });
}

async function twoProviders() {
  const context = await browser.newContext();
  page = await newTab(context);
  await page.goto(app + '/');
  await page.waitForSelector('body[data-state="signed-out"]');
  const buttons = await page.locator('#signed-out button').allTextContents();
  step('choice', { buttons, plainLogin: await page.locator('#login').count() });
  const signIn = async (name, user, shot) => {
    [login, password] = [user, user];
    await page.click(`#login-${name}`);
    await throughProvider('body[data-state="signed-in"]');
    await page.screenshot({ path: `${shots}/${shot}`, fullPage: true });
    return { user: await page.textContent('#user'), claims: JSON.parse(await page.textContent('#claims')),
      askedPassword: sawLoginForm };
  };
  step('lemon', await signIn('lemon', 'dwho', 'two-providers-lemon.png'));
  // The origins the tab goes through on logout: the logout URL's provider.
  const origins = new Set();
  const seen = (frame) => { if (frame === page.mainFrame()) origins.add(new URL(frame.url()).origin); };
  page.on('framenavigated', seen);
  const stored = await logOut();
  page.off('framenavigated', seen);
  const sso = (await context.cookies()).some((c) => c.name === 'lemonldap');
  step('logout', { stored, url: page.url(), origins: [...origins], ssoCookie: sso });
  step('local', await signIn('local', 'alice', 'two-providers-local.png'));
}

const flows = { logins, session, lemonldap, 'two-providers': twoProviders };
try {
  const flow = flows[process.env.FLOW || 'logins'];
  if (!flow) throw new Error(`unknown FLOW ${process.env.FLOW}`);
  await flow();
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
