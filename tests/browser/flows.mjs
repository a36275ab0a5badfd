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
// - `cookie-only`: the demo in cookie-only mode (DEMO_MODE=cookie; the backend with
//   BROWSER_TOKENS=none and sessions): one SPA login, then ROUNDS rounds of calls to the
//   upstream API through /api/remote/echo (our JWT) and /api/remote/idp (the provider's access
//   token), ROUND_SECONDS apart, each but the last followed MID_SECONDS later by one more idp
//   call; then logout. At every step it reads every answer of the app's origin the browser
//   received (bodies and headers), the addresses the page sent the browser to,
//   document.cookie, localStorage, sessionStorage and the page's DOM, and fails on a
//   JWT-shaped string (`eyJ`) anywhere but in the id_token_hint of the provider's logout URL
//   (in /api/logout's answer and the address the page goes to with it; and the base64 source
//   maps the Vite dev server inlines in the page's own scripts), or in a header other than an
//   HttpOnly Set-Cookie. Needs the provider's ID token as id_token_hint at logout.
// - `your-sessions`: with server-side sessions, two browser contexts (two devices) sign in as
//   the same user, A then B; A's "Your sessions" panel lists both, A signs out B's session
//   there; B's next refresh ("Refresh now") is refused and B shows the signed-out state, while
//   A's next refresh succeeds.
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

/** What a tab's "Your sessions" panel shows (null when it shows none). */
async function sessionsShown(tab) {
  return tab.evaluate(() => {
    const panel = document.querySelector('#sessions');
    if (!panel) return null;
    const text = (root, selector) => root.querySelector(selector)?.textContent ?? null;
    return {
      version: Number(panel.dataset.version),
      sessions: [...panel.querySelectorAll('.session')].map((li) => ({
        sid: li.dataset.sid,
        current: li.classList.contains('current'),
        device: text(li, '.session-device'),
        mark: text(li, '.this-device'),
        provider: text(li, '[data-field="provider"]'),
        created: text(li, '[data-field="created"]'),
        used: text(li, '[data-field="used"]'),
        buttons: [...li.querySelectorAll('button.end-session')].map((b) => b.textContent),
      })),
      note: text(panel, '#sessions-note'),
    };
  });
}

/** Waits until the panel shows a list newer than version `after`; what it shows then. */
async function sessionsAfter(tab, after) {
  await tab.waitForFunction((v) => Number(document.querySelector('#sessions')?.dataset.version) > v, after);
  return sessionsShown(tab);
}

/** Clicks the panel's "Reload the list"; the list its answer brings. */
async function reloadSessions(tab) {
  const before = Number(await tab.getAttribute('#sessions', 'data-version'));
  await tab.click('#sessions-reload');
  return sessionsAfter(tab, before);
}

/** Runs `action` in `tab`; the first answer to `path` it causes (status and JSON body). */
async function answerDuring(tab, path, action, method = null) {
  const [resp] = await Promise.all([
    tab.waitForResponse((r) => new URL(r.url()).pathname.startsWith(path)
      && (method === null || r.request().method() === method), { timeout: 60_000 }),
    action(),
  ]);
  return { status: resp.status(), path: new URL(resp.url()).pathname, body: await resp.json().catch(() => null) };
}

/** The text of the page's error area, or null when it is hidden. */
const errorShown = (tab) => tab.evaluate(() => {
  const error = document.querySelector('#error');
  return error && !error.hidden ? error.textContent : null;
});

async function yourSessions() {
  // Two browser contexts: two devices, no cookie shared, each signs in through the provider's
  // form as the same user.
  const signIn = async (name) => {
    const tab = await newTab(await browser.newContext());
    page = tab;
    await tab.goto(app + '/');
    await tab.waitForSelector('body[data-state="signed-out"]');
    await tab.click('#login');
    await throughProvider('body[data-state="signed-in"]', tab);
    // After a login the page lists the user's sessions.
    const sessions = await sessionsAfter(tab, 0);
    step(`${name}-signed-in`, { askedPassword: sawLoginForm, ...(await held(tab)), sessions });
    return tab;
  };
  const a = await signIn('a');
  const b = await signIn('b');

  // 1. A reads its list again: both sessions, A's own marked "This device".
  page = a;
  const two = await reloadSessions(a);
  await a.screenshot({ path: `${shots}/your-sessions-two.png`, fullPage: true });
  step('a-lists-two', { sessions: two, error: await errorShown(a) });

  // 2. A signs out the other session (B's) from the panel; the list is read again.
  const other = a.locator('.session:not(.current)');
  const sid = await other.getAttribute('data-sid');
  const before = Number(await a.getAttribute('#sessions', 'data-version'));
  const ended = await answerDuring(a, '/api/sessions/', () => other.locator('button.end-session').click(), 'DELETE');
  const one = await sessionsAfter(a, before);
  await a.screenshot({ path: `${shots}/your-sessions-one.png`, fullPage: true });
  step('a-ended-b', { sid, ended, sessions: one, error: await errorShown(a), ...(await held(a)) });

  // 3. B's next refresh ("Refresh now", what its schedule would do): refused, B is signed out.
  page = b;
  const bBefore = await held(b);
  if (bBefore.state !== 'signed-in') throw new Error(`B left the signed-in state before its refresh: ${JSON.stringify(bBefore)}`);
  const refusal = await answerDuring(b, '/api/refresh', () => b.click('#refresh'));
  await b.waitForSelector('#session-ended');
  await b.screenshot({ path: `${shots}/your-sessions-other-device-ended.png`, fullPage: true });
  step('b-refresh', {
    refresh: refusal,
    heading: await b.textContent('#signed-out h2'),
    panel: await sessionsShown(b),
    ...(await held(b)),
  });

  // 4. A's next refresh succeeds: A is still signed in, its list still one session.
  page = a;
  const aVersion = Number(await a.getAttribute('#sessions', 'data-version'));
  const renewal = await answerDuring(a, '/api/refresh', () => a.click('#refresh'));
  const after = await sessionsAfter(a, aVersion);
  step('a-refresh', { refresh: { status: renewal.status }, sessions: after, error: await errorShown(a), ...(await held(a)) });
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

/** Every JWT-shaped word of `text` (one that starts with `eyJ`, the base64url of `{"`, as
 *  e2e's `jwts_in`; a random id with `eyJ` inside a word is none), with a little context (at
 *  most 5). */
function jwtShaped(text) {
  const hits = [];
  for (const m of text.matchAll(/(?<![A-Za-z0-9_.-])eyJ/g)) {
    if (hits.length === 5) break;
    hits.push(text.slice(Math.max(0, m.index - 40), m.index + 12));
  }
  return hits;
}

/** An answer's body with what may hold `eyJ` cut out: the provider logout URL's
 *  id_token_hint in /api/logout's answer (returned as `hints`), and a script's inline base64
 *  source map (Vite's dev server; base64 of `{"...`). */
function withoutAllowed(path, body) {
  const hints = [];
  if (path === '/api/logout') {
    try {
      const hint = new URL(JSON.parse(body).logout_url).searchParams.get('id_token_hint');
      if (hint) {
        hints.push(hint);
        body = body.split(`id_token_hint=${hint}`).join('id_token_hint=<allowed>');
      }
    } catch { /* no logout_url: nothing allowed */ }
  }
  // Any answer, whatever its content type says (a 304 revalidating a script has none).
  body = body.replace(/\/\/# sourceMappingURL=data:application\/json;(charset=utf-8;)?base64,[A-Za-z0-9+/=]+/g,
    '//# sourceMappingURL=<inline source map>');
  return { body, hints };
}

async function cookieOnly() {
  const rounds = Number(process.env.ROUNDS || 3);
  const roundMs = Number(process.env.ROUND_SECONDS || 65) * 1000;
  const midMs = Number(process.env.MID_SECONDS || 30) * 1000;
  const context = await browser.newContext();
  page = await newTab(context);

  // Every answer of the app's origin, to any tab of the context: its body and headers, read
  // as it comes (the reads are awaited before each check).
  const answers = [];
  const reading = new Set();
  context.on('response', (resp) => {
    const url = new URL(resp.url());
    if (url.origin !== appOrigin) return;
    const read = (async () => {
      let body = '';
      let unread = false;
      // A redirect has no body; nor, to the browser's API, an answer the page read just before
      // it navigated away (/api/login's, /api/logout's: the URL each holds is checked as the
      // page goes there).
      try { body = (await resp.body()).toString('utf8'); } catch { unread = resp.status() < 300 || resp.status() >= 400; }
      const headers = await resp.allHeaders().catch(() => ({}));
      answers.push({ path: url.pathname, status: resp.status(), headers, body, unread });
    })();
    reading.add(read);
    read.finally(() => reading.delete(read));
  });

  // The secrets the browser holds where scripts cannot see them (HttpOnly cookies, read here
  // through the browser's own API), for the functions' log check; and the ID token hints.
  const cookieValues = new Set();
  const idTokenHints = new Set();
  // The page's navigations away from the app (the provider's pages, its logout URL among them).
  const away = [];
  context.on('request', (req) => {
    if (req.isNavigationRequest() && new URL(req.url()).origin !== appOrigin) away.push(req.url());
  });
  let checkedAway = 0;
  let checkedAnswers = 0;
  let sourceMaps = 0;
  const checks = [];

  /** Reads what the page can reach and what it received since the last check, and fails on a
   *  JWT-shaped string outside the allowed places. */
  async function check(name) {
    while (reading.size) await Promise.all([...reading]);
    const found = [];
    for (const a of answers.slice(checkedAnswers)) {
      const { body, hints } = withoutAllowed(a.path, a.body);
      hints.forEach((h) => idTokenHints.add(h));
      if (body !== a.body && !hints.length) sourceMaps += 1;
      for (const hit of jwtShaped(body)) found.push({ where: `body of ${a.status} ${a.path}`, hit });
      for (const [header, value] of Object.entries(a.headers)) {
        // Only an HttpOnly cookie may carry a JWT in a header: scripts cannot read it.
        const lines = header === 'set-cookie' ? value.split('\n') : [value];
        for (const line of lines.filter((l) => jwtShaped(l).length)) {
          if (header === 'set-cookie' && /;\s*httponly/i.test(line)) continue;
          found.push({ where: `header ${header} of ${a.status} ${a.path}`, hit: jwtShaped(line)[0] });
        }
      }
    }
    const unread = answers.slice(checkedAnswers).filter((a) => a.unread).map((a) => a.path);
    // Where the page sent the browser: only the logout URL's id_token_hint may be a JWT.
    for (const url of away.slice(checkedAway)) {
      const hint = new URL(url).searchParams.get('id_token_hint');
      if (hint) idTokenHints.add(hint);
      const rest = hint ? url.split(`id_token_hint=${hint}`).join('id_token_hint=<allowed>') : url;
      for (const hit of jwtShaped(rest)) found.push({ where: `the address ${new URL(url).origin}${new URL(url).pathname}`, hit });
    }
    checkedAway = away.length;
    const checked = answers.length - checkedAnswers;
    checkedAnswers = answers.length;
    let seen = null;
    if (new URL(page.url()).origin === appOrigin) {
      seen = await page.evaluate(() => {
        const dump = (storage) => Object.fromEntries(Array.from({ length: storage.length }, (_, i) => {
          const key = storage.key(i);
          return [key, storage.getItem(key)];
        }));
        return {
          cookie: document.cookie,
          localStorage: dump(localStorage),
          sessionStorage: dump(sessionStorage),
          dom: document.documentElement.outerHTML,
        };
      });
      for (const [what, text] of [
        ['document.cookie', seen.cookie],
        ['localStorage', JSON.stringify(seen.localStorage)],
        ['sessionStorage', JSON.stringify(seen.sessionStorage)],
        ['the DOM', seen.dom],
      ]) {
        for (const hit of jwtShaped(text)) found.push({ where: what, hit });
      }
    }
    for (const c of await context.cookies()) {
      if (c.name === '__Host-session' || c.name === '__Host-refresh') cookieValues.add(c.value);
    }
    const entry = {
      name,
      answers: checked,
      unread,
      documentCookie: seen && seen.cookie,
      localStorage: seen && Object.keys(seen.localStorage).length,
      sessionStorage: seen && Object.keys(seen.sessionStorage).length,
      found,
    };
    checks.push(entry);
    if (found.length) throw new Error(`a JWT-shaped string reached the page at step ${name}: ${JSON.stringify(found)}`);
  }

  /** Clicks the button of remote API `api`; what the page shows of the answer (the page numbers
   *  its calls 1, 2, ...). */
  let clicks = 0;
  async function call(api) {
    const at = Date.now();
    await page.click(`#call-${api}`);
    const result = page.locator(`#remote-result[data-seq="${++clicks}"]`);
    await result.waitFor({ timeout: 60_000 });
    const attr = (name) => result.getAttribute(`data-${name}`);
    return {
      api,
      t: Math.round((at - started) / 1000),
      ms: Date.now() - at,
      seq: Number(await attr('seq')),
      path: await attr('path'),
      status: Number(await attr('status')),
      ok: (await attr('ok')) === 'true',
      refreshed: (await attr('refreshed')) === 'true',
      answer: JSON.parse(await result.textContent()),
      state: await page.getAttribute('body', 'data-state'),
    };
  }

  // 1. The page says which posture it runs, offers both APIs only once signed in; SPA login
  // through the provider's form.
  await page.goto(app + '/');
  await page.waitForSelector('body[data-state="signed-out"]');
  const mode = { data: await page.getAttribute('body', 'data-mode'), text: await page.textContent('#mode') };
  await check('signed-out');
  await page.click('#login');
  await throughProvider('body[data-state="signed-in"], body[data-state="error"]');
  await check('callback');
  if (await page.locator('body[data-state="error"]').count()) {
    throw new Error(`the login failed: ${await page.textContent('#error')}`);
  }
  await page.waitForSelector('#me-claims');
  const started = Date.now();
  const me = JSON.parse(await page.textContent('#me-claims'));
  await page.screenshot({ path: `${shots}/cookie-only-signed-in.png`, fullPage: true });
  const cookies = await context.cookies();
  const sessionCookie = cookies.find((c) => c.name === '__Host-session');
  step('sign-in', {
    mode,
    askedPassword: sawLoginForm,
    user: await page.textContent('#user'),
    sub: await page.textContent('#user [data-field="sub"]'),
    me,
    url: page.url(),
    buttons: await page.locator('#remote button').allTextContents(),
    claimsShown: (await page.locator('#claims').count()) > 0,
    session: sessionCookie && { httpOnly: sessionCookie.httpOnly, secure: sessionCookie.secure,
      sameSite: sessionCookie.sameSite, value: sessionCookie.value },
  });
  await check('sign-in');

  // 2. Rounds of calls, spread over several lifetimes of our JWT and of the provider's access
  // token: a round's first call after our JWT has expired goes through POST /api/refresh.
  const calls = [];
  for (let round = 1; round <= rounds; round++) {
    const due = started + (round - 1) * roundMs;
    if (Date.now() < due) await page.waitForTimeout(due - Date.now());
    for (const api of ['echo', 'idp']) {
      calls.push({ round, ...(await call(api)) });
      await check(`round ${round} ${api}`);
    }
    if (round < rounds) {
      // Our JWT still valid, the provider's access token expired: the proxy renews it.
      const mid = due + midMs;
      if (Date.now() < mid) await page.waitForTimeout(mid - Date.now());
      calls.push({ round, mid: true, ...(await call('idp')) });
      await check(`round ${round} mid idp`);
    }
  }
  await page.screenshot({ path: `${shots}/cookie-only-calls.png`, fullPage: true });
  step('calls', { calls, seconds: Math.round((Date.now() - started) / 1000) });

  // 3. Log out: the API ends the session and answers the provider's logout URL; the page goes
  // there, the provider asks to confirm, then sends the browser back, signed out.
  const awayBefore = away.length;
  await logOut(page);
  await check('logout');
  const logoutUrl = away.slice(awayBefore).find((u) => new URL(u).searchParams.has('id_token_hint')) ?? null;
  const left = (await context.cookies()).filter((c) => c.name.startsWith('__Host-')).map((c) => c.name);
  // After logout, a call with the cookies the browser still holds is refused.
  const after = await page.evaluate(async () => {
    const resp = await fetch('/api/remote/echo/whoami?n=0', { headers: { 'X-CSRF': '1' } });
    return { status: resp.status, body: await resp.json().catch(() => null) };
  });
  await check('after-logout');
  step('logout', {
    url: page.url(),
    logoutUrlHasHint: logoutUrl !== null,
    logoutAt: logoutUrl && new URL(logoutUrl).origin + new URL(logoutUrl).pathname,
    cookiesLeft: left,
    after,
  });
  report.checks = checks;
  report.answersChecked = checkedAnswers;
  report.sourceMaps = sourceMaps;
  report.secrets = { cookies: [...cookieValues], idTokenHints: [...idTokenHints] };
}

const flows = {
  logins,
  session,
  lemonldap,
  'two-providers': twoProviders,
  'cookie-only': cookieOnly,
  'your-sessions': yourSessions,
};
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
