// Demo single-page app for the OpenID Connect login backend.
//
// Plain TypeScript, no framework. Every piece of text that comes from the URL,
// the API or the provider is put into the page with textContent, never as HTML.

// ---------------------------------------------------------------------------
// 1. The callback's parameters. This runs first, synchronously, before any
//    await: code and state leave the address bar (and the history entry) at once.
// ---------------------------------------------------------------------------

interface CallbackParams {
  code: string | null;
  state: string | null;
  iss: string | null;
  error: string | null;
}

let callbackParams: CallbackParams | null = null;

if (location.pathname === '/callback') {
  const q = new URLSearchParams(location.search);
  callbackParams = {
    code: q.get('code'),
    state: q.get('state'),
    iss: q.get('iss'),
    error: q.get('error'),
    // error_description from the provider is deliberately not read: it is
    // attacker-controllable text and is never shown.
  };
  history.replaceState(null, '', '/callback');
}

// ---------------------------------------------------------------------------
// 1b. The posture (DEMO_MODE, see vite.config.ts), fixed at build time:
//     - 'token': the SPA flow hands this page our JWT (RFC 10017 section 6.2, a
//       token-mediating backend); the page keeps it and refreshes it.
//     - 'cookie': cookie-only (RFC 10017 section 6.1, a backend-for-frontend): this page never
//       holds a token and writes nothing to localStorage or sessionStorage. Our JWT stays in
//       the HttpOnly __Host-session cookie; the page calls /api/me and the remote APIs
//       (/api/remote/<name>/..., DEMO_REMOTE_APIS) with its cookies and X-CSRF: 1, and the
//       backend attaches the token upstream. Needs the backend's BROWSER_TOKENS=none.
// ---------------------------------------------------------------------------

declare const __DEMO_MODE__: 'token' | 'cookie';
declare const __DEMO_REMOTE_APIS__: ReadonlyArray<string>;
const COOKIE_ONLY = __DEMO_MODE__ === 'cookie';
const REMOTE_APIS = __DEMO_REMOTE_APIS__;

// ---------------------------------------------------------------------------
// 2. The token (token mode only) is kept in memory and in sessionStorage (this tab only),
//    never in localStorage or a cookie that this page can read.
// ---------------------------------------------------------------------------

const STORAGE_KEY = 'oidc-demo.session';

// ---------------------------------------------------------------------------
// 2b. The providers to pick from (DEMO_PROVIDERS, see vite.config.ts): none means one
//     "Log in" button for the backend's default provider. The name of the provider a login
//     started at is kept for this tab (sessionStorage), so logout can name it to the API.
// ---------------------------------------------------------------------------

declare const __DEMO_PROVIDERS__: ReadonlyArray<{ name: string; label: string }>;
const PROVIDERS = __DEMO_PROVIDERS__;
/** The provider of the login in flight in this tab (set when it starts). */
const PENDING_PROVIDER_KEY = 'oidc-demo.login-provider';
/** The provider of this tab's token (set when the login completes). */
const PROVIDER_KEY = 'oidc-demo.provider';

function storedItem(key: string): string | null {
  try {
    return sessionStorage.getItem(key);
  } catch {
    return null;
  }
}

function storeItem(key: string, value: string | null): void {
  // Cookie-only: nothing goes into storage, not even a provider's name.
  if (COOKIE_ONLY) return;
  try {
    if (value === null) sessionStorage.removeItem(key);
    else sessionStorage.setItem(key, value);
  } catch {
    // storage disabled: logout then names no provider (the backend's default)
  }
}

function providerLabel(name: string | null): string | undefined {
  return PROVIDERS.find((p) => p.name === name)?.label;
}

interface User {
  sub: string;
  email?: string;
  name?: string;
}

interface Session {
  token: string;
  token_type: string;
  /** Milliseconds since the epoch, from expires_in at the time we got it. */
  expires_at: number;
  user: User;
}

let session: Session | null = COOKIE_ONLY ? null : loadSession();

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function optString(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

function parseUser(v: unknown): User | null {
  if (!isRecord(v) || typeof v.sub !== 'string') return null;
  return { sub: v.sub, email: optString(v.email), name: optString(v.name) };
}

/** The token answer of /api/callback and /api/refresh, or null when it lacks a token or a user. */
function sessionFrom(data: Record<string, unknown>): Session | null {
  const user = parseUser(data.user);
  if (typeof data.token !== 'string' || !user) return null;
  const expiresIn = typeof data.expires_in === 'number' ? data.expires_in : 0;
  return {
    token: data.token,
    token_type: optString(data.token_type) ?? 'Bearer',
    expires_at: Date.now() + expiresIn * 1000,
    user,
  };
}

function loadSession(): Session | null {
  try {
    const raw = sessionStorage.getItem(STORAGE_KEY);
    if (!raw) return null;
    const v: unknown = JSON.parse(raw);
    const user = isRecord(v) ? parseUser(v.user) : null;
    if (isRecord(v) && user && typeof v.token === 'string' && typeof v.expires_at === 'number') {
      return { token: v.token, token_type: optString(v.token_type) ?? 'Bearer', expires_at: v.expires_at, user };
    }
  } catch {
    // fall through: unreadable storage is treated as "no session"
  }
  forgetSession();
  return null;
}

function saveSession(s: Session): void {
  if (COOKIE_ONLY) return; // never reached: cookie-only holds no token
  session = s;
  try {
    sessionStorage.setItem(STORAGE_KEY, JSON.stringify(s));
  } catch {
    // storage full or disabled: the token still lives in memory for this page
  }
}

function forgetSession(): void {
  session = null;
  try {
    sessionStorage.removeItem(STORAGE_KEY);
  } catch {
    // nothing to forget
  }
}

// ---------------------------------------------------------------------------
// 3. Talking to the API.
// ---------------------------------------------------------------------------

class ApiError extends Error {
  constructor(
    /** Readable text, safe to show as text. */
    message: string,
    /** Stable error code from the API, or one made up here (network_error, http_502, ...). */
    readonly code: string,
    readonly status: number | null,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

type Method = 'GET' | 'POST' | 'DELETE';

async function callApi(
  method: Method,
  path: string,
  body?: unknown,
  extraHeaders: Record<string, string> = {},
): Promise<Record<string, unknown>> {
  return (await sendApi(method, path, body, extraHeaders)).data;
}

/** As callApi, with the answer's status. A `204` (no content) answers an empty object. */
async function sendApi(
  method: Method,
  path: string,
  body?: unknown,
  extraHeaders: Record<string, string> = {},
): Promise<{ status: number; data: Record<string, unknown> }> {
  const headers: Record<string, string> = { Accept: 'application/json', ...extraHeaders };
  if (body !== undefined) headers['Content-Type'] = 'application/json';

  let res: Response;
  try {
    res = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'include',
      cache: 'no-store',
    });
  } catch {
    throw new ApiError('The API is not reachable (network error). Is the backend running?', 'network_error', null);
  }

  let text = '';
  try {
    text = await res.text();
  } catch {
    throw new ApiError('The API is not reachable (the answer was cut off).', 'network_error', res.status);
  }

  let data: unknown = undefined;
  try {
    data = text ? JSON.parse(text) : undefined;
  } catch {
    data = undefined;
  }

  if (res.status === 204) return { status: 204, data: {} };
  if (!isRecord(data)) {
    if (!res.ok) {
      throw new ApiError(
        `The API is not reachable (HTTP ${res.status}, the answer was not JSON). Is the backend running?`,
        `http_${res.status}`,
        res.status,
      );
    }
    throw new ApiError(`The API gave an unexpected answer (HTTP ${res.status}, not a JSON object).`, 'bad_response', res.status);
  }

  if (!res.ok) {
    const code = optString(data.error) || `http_${res.status}`;
    const description = optString(data.error_description) || `The API answered HTTP ${res.status}.`;
    throw new ApiError(description, code, res.status);
  }
  return { status: res.status, data };
}

function asApiError(e: unknown): ApiError {
  if (e instanceof ApiError) return e;
  return new ApiError(`Unexpected error in the page: ${e instanceof Error ? e.message : String(e)}`, 'page_error', null);
}

// ---------------------------------------------------------------------------
// 4. Keeping the session: POST /api/refresh before the token expires.
//
//    With server-side sessions the backend holds the login and the browser an
//    HttpOnly handle cookie that this page cannot read. The page asks for a
//    fresh token at 75% of each token's life, on load (so a reload or a new tab
//    resumes the session without the provider), and when the tab comes back
//    into view. What the answer means:
//      200                                 a new token: keep it, schedule the next refresh;
//      401 session_expired/session_missing the session is over (logged out in another tab,
//                                          too old, idle, ended at the provider): forget
//                                          the token and say so;
//      404 sessions_not_configured         the backend keeps no sessions: stop asking, the
//                                          token lives until it expires (then: log in again);
//      anything else (502, 504, network)   the backend or the provider is unwell: keep the
//                                          token, retry with backoff.
// ---------------------------------------------------------------------------

/** Refresh at this share of the token's lifetime... */
const REFRESH_AT = 0.75;
/** ...but never sooner than this after receiving it. */
const MIN_REFRESH_DELAY_MS = 5_000;
/** Backoff after a failed refresh: doubles from the first delay up to the last. */
const RETRY_DELAYS_MS = { first: 2_000, max: 60_000 };
/** A tab coming back into view checks the session if it has not for this long. */
const RECHECK_ON_VIEW_MS = 30_000;

type RefreshOutcome = 'refreshed' | 'ended' | 'no-session' | 'sessions-off' | 'failed';

const keeper = {
  /** True once the backend answered 404 (sessions_not_configured, or no refresh route). */
  sessionsOff: false,
  timer: undefined as number | undefined,
  /** When the next refresh is due (ms since the epoch), or null when none is scheduled. */
  nextAt: null as number | null,
  /** When this page last received a token (login or refresh). */
  receivedAt: null as number | null,
  failures: 0,
  /** A short, safe text while refreshes fail. */
  notice: null as string | null,
  running: null as Promise<RefreshOutcome> | null,
};

/** True after a session ended under a signed-in page, until the next login. */
let sessionEnded = false;

function scheduleIn(delayMs: number): void {
  clearTimeout(keeper.timer);
  keeper.nextAt = Date.now() + delayMs;
  keeper.timer = window.setTimeout(() => void keepSession(), delayMs);
}

function stopRefreshing(): void {
  clearTimeout(keeper.timer);
  keeper.timer = undefined;
  keeper.nextAt = null;
  keeper.notice = null;
}

/** Keeps a token just received (from a login or a refresh) and schedules its refresh. */
function acceptToken(s: Session): void {
  saveSession(s);
  sessionEnded = false;
  keeper.receivedAt = Date.now();
  keeper.failures = 0;
  keeper.notice = null;
  if (!keeper.sessionsOff) {
    scheduleIn(Math.max(MIN_REFRESH_DELAY_MS, (s.expires_at - Date.now()) * REFRESH_AT));
  }
}

/** One POST /api/refresh at a time in this tab; a second caller shares the first's answer. */
function refreshSession(): Promise<RefreshOutcome> {
  keeper.running ??= refreshOnce().finally(() => {
    keeper.running = null;
  });
  return keeper.running;
}

async function refreshOnce(): Promise<RefreshOutcome> {
  clearTimeout(keeper.timer);
  keeper.nextAt = null;
  const signedIn = session !== null;
  try {
    // X-CSRF: the refresh is authenticated by a cookie, so, as for logout, a cross-site
    // request must not be able to make one.
    const data = await callApi('POST', '/api/refresh', {}, { 'X-CSRF': '1' });
    const fresh = sessionFrom(data);
    if (!fresh) throw new ApiError('The API answer has no token or no user.', 'bad_response', 200);
    acceptToken(fresh);
    return 'refreshed';
  } catch (e) {
    const err = asApiError(e);
    if (err.status === 404) {
      keeper.sessionsOff = true;
      return 'sessions-off';
    }
    if (err.status === 401 && (err.code === 'session_expired' || err.code === 'session_missing')) {
      forgetSession();
      stopRefreshing();
      return signedIn ? 'ended' : 'no-session';
    }
    keeper.failures += 1;
    if (!signedIn) {
      // Nothing to keep: the user can still log in.
      keeper.notice = `Could not look for an existing session (${err.code}).`;
      return 'failed';
    }
    const delay = Math.min(RETRY_DELAYS_MS.max, RETRY_DELAYS_MS.first * 2 ** (keeper.failures - 1));
    keeper.notice = `The token could not be refreshed (${err.code}); trying again in ${Math.round(delay / 1000)} s. You stay signed in.`;
    scheduleIn(delay);
    return 'failed';
  }
}

/** Refreshes, then shows the result: signed in with the new token (and "Your sessions" read
 *  again), or the signed-out state when the session is over. */
async function keepSession(): Promise<void> {
  const outcome = await refreshSession();
  if (outcome === 'ended') sessionEnded = true;
  if (outcome === 'ended' || outcome === 'no-session') resetSessionsPanel();
  if (location.pathname === '/callback') return;
  renderHome();
  if (outcome === 'refreshed') void loadSessions();
}

/** The "Refresh now" button: the scheduled refresh, at once. */
async function refreshNow(button: HTMLButtonElement): Promise<void> {
  button.disabled = true;
  setStatus('Asking POST /api/refresh for a new token…');
  await keepSession();
}

/** A call authenticated by this tab's token (`Authorization: Bearer`), plus `headers`. A 401
 *  (our JWT expired in a throttled tab, or its session is over) makes the page ask POST
 *  /api/refresh, as its schedule would, and send the call once more with the new token.
 *  Throws SignedOut when the refresh says that the session is over. */
async function tokenSend(
  method: Method,
  path: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; data: Record<string, unknown> }> {
  const send = () => {
    const all = { ...headers };
    if (session) all.Authorization = `Bearer ${session.token}`;
    return sendApi(method, path, undefined, all);
  };
  try {
    return await send();
  } catch (e) {
    const err = asApiError(e);
    if (err.status !== 401) throw err;
    const outcome = await refreshSession();
    if (outcome === 'refreshed') return await send();
    if (outcome === 'ended' || outcome === 'no-session') throw new SignedOut('ended', err);
    throw err;
  }
}

/** A tab coming back into view refreshes when due (background tabs' timers may have been
 *  throttled), or when it has not checked for a while (another tab may have logged out). */
function onBackInView(): void {
  if (document.visibilityState !== 'visible' || !session || keeper.sessionsOff) return;
  const now = Date.now();
  const due = keeper.nextAt !== null && now >= keeper.nextAt;
  const stale = keeper.receivedAt === null || now - keeper.receivedAt >= RECHECK_ON_VIEW_MS;
  if (due || stale) void keepSession();
}

document.addEventListener('visibilitychange', onBackInView);
window.addEventListener('focus', onBackInView);

// ---------------------------------------------------------------------------
// 4b. Cookie-only (DEMO_MODE=cookie): the session is the backend's HttpOnly cookie.
//
//     The page knows who is signed in (the user of /api/callback, /api/refresh and /api/me)
//     and when our JWT in the cookie expires, never the JWT itself. Every call sends the
//     cookies and X-CSRF: 1. When our JWT has expired, a call is refused with 401
//     invalid_token (or missing_token, once the browser has dropped the expired cookie): the
//     page asks POST /api/refresh (the HttpOnly __Host-refresh handle riding along), which
//     renews the cookie and answers {user, expires_in}, and sends the call once more. A
//     refused refresh means signed out. Nothing is scheduled: a cookie is renewed when a call
//     needs it.
// ---------------------------------------------------------------------------

interface CookieSession {
  user: User;
  /** When our JWT in the cookie expires (ms since the epoch), or null when not known. */
  expiresAt: number | null;
  /** What last confirmed the session, and when. */
  via: 'login' | '/api/me' | 'refresh';
  at: number;
}

/** The upstream's answer to one call through /api/remote/ (or our error). */
interface RemoteResult {
  /** The call's number in this page (1, 2, ...). */
  seq: number;
  api: string;
  path: string;
  status: number | null;
  ok: boolean;
  /** A refresh of the cookie came between a refused first try and the answer. */
  refreshed: boolean;
  /** The upstream's JSON answer, or {error, error_description} of a refusal. */
  body: unknown;
}

const cookie = {
  session: null as CookieSession | null,
  /** What /api/me said (our JWT's claims: no token), or why it could not say. */
  me: null as Record<string, unknown> | null,
  /** When /api/me said it. */
  meAt: 0,
  meNote: 'Asking /api/me…',
  refreshes: 0,
  running: null as Promise<CookieRefresh> | null,
  remoteSeq: 0,
  lastRemote: null as RemoteResult | null,
};

type CookieRefresh = 'refreshed' | 'ended' | 'failed';

/** The session is gone (a refused refresh): the page is signed out. */
class SignedOut extends ApiError {
  constructor(
    readonly outcome: 'ended' | 'failed',
    cause: ApiError,
  ) {
    super(cause.message, cause.code, cause.status);
    this.name = 'SignedOut';
  }
}

let lastRefreshError: ApiError | null = null;

/** The user of a cookie-only answer (`{user, expires_in, return_to?}`). An answer with a token
 *  means the backend runs BROWSER_TOKENS=body: the token is dropped at once, never kept. */
function cookieOnlyUser(data: Record<string, unknown>): User {
  if ('token' in data) {
    throw new ApiError(
      'The API handed this page a token: it runs with BROWSER_TOKENS=body, and the cookie-only demo needs BROWSER_TOKENS=none. The token was dropped.',
      'token_in_body',
      200,
    );
  }
  const user = parseUser(data.user);
  if (!user) throw new ApiError('The API answer has no user.', 'bad_response', 200);
  return user;
}

function expiresAtFrom(expiresIn: unknown): number | null {
  return typeof expiresIn === 'number' ? Date.now() + expiresIn * 1000 : null;
}

/** One POST /api/refresh at a time; a second caller shares the first's answer. */
function refreshCookie(): Promise<CookieRefresh> {
  cookie.running ??= refreshCookieOnce().finally(() => {
    cookie.running = null;
  });
  return cookie.running;
}

async function refreshCookieOnce(): Promise<CookieRefresh> {
  try {
    const data = await callApi('POST', '/api/refresh', {}, { 'X-CSRF': '1' });
    const user = cookieOnlyUser(data);
    cookie.session = { user, expiresAt: expiresAtFrom(data.expires_in), via: 'refresh', at: Date.now() };
    cookie.refreshes += 1;
    lastRefreshError = null;
    return 'refreshed';
  } catch (e) {
    const err = asApiError(e);
    lastRefreshError = err;
    const ended =
      err.status === 404 || (err.status === 401 && (err.code === 'session_expired' || err.code === 'session_missing'));
    return ended ? 'ended' : 'failed';
  }
}

/** Our JWT in the cookie has expired, or the browser dropped the expired cookie. */
function cookieExpired(err: ApiError): boolean {
  return err.status === 401 && (err.code === 'invalid_token' || err.code === 'missing_token');
}

/** A call authenticated by the session cookie, with X-CSRF: 1; refreshes the cookie and tries
 *  once more when our JWT has expired. Throws SignedOut when the refresh is refused. */
async function cookieSend(
  method: 'GET' | 'DELETE',
  path: string,
): Promise<{ status: number; data: Record<string, unknown>; refreshed: boolean }> {
  const headers = { 'X-CSRF': '1' };
  try {
    return { ...(await sendApi(method, path, undefined, headers)), refreshed: false };
  } catch (e) {
    const err = asApiError(e);
    if (!cookieExpired(err)) throw err;
    const outcome = await refreshCookie();
    if (outcome !== 'refreshed') throw new SignedOut(outcome, lastRefreshError ?? err);
    return { ...(await sendApi(method, path, undefined, headers)), refreshed: true };
  }
}

function cookieGet(path: string): Promise<{ status: number; data: Record<string, unknown>; refreshed: boolean }> {
  return cookieSend('GET', path);
}

/** The "Refresh now" button: POST /api/refresh at once. Refused (the session is over): the
 *  signed-out state; failed otherwise (the backend unwell): the page stays as it is and says so. */
async function cookieRefreshNow(button: HTMLButtonElement): Promise<void> {
  button.disabled = true;
  setStatus('Asking POST /api/refresh to renew the session cookie…');
  const outcome = await refreshCookie();
  if (outcome === 'refreshed') {
    renderHome();
    void loadSessions();
    return;
  }
  const err = lastRefreshError ?? new ApiError('The refresh failed.', 'page_error', null);
  if (outcome === 'ended') {
    cookieSignedOut(new SignedOut('ended', err));
    return;
  }
  renderHome();
  showApiError('The session cookie could not be renewed; try again.', err);
}

/** The signed-out state after a refused refresh. */
function cookieSignedOut(e: SignedOut): void {
  const wasSignedIn = cookie.session !== null;
  cookie.session = null;
  cookie.me = null;
  cookie.lastRemote = null;
  resetSessionsPanel();
  sessionEnded = wasSignedIn && e.outcome === 'ended';
  renderHome();
  if (wasSignedIn && e.outcome === 'failed') {
    showError({
      title: 'The session cookie could not be renewed: you are signed out in this page.',
      detail: `${e.message} Reload the page to try again.`,
      code: e.code,
    });
  }
}

/** Takes what /api/me says (our JWT's claims, from the cookie) as the session. */
function acceptMe(data: Record<string, unknown>): void {
  const user = parseUser(data);
  if (!user) throw new ApiError('The /api/me answer has no sub.', 'bad_response', 200);
  const exp = typeof data.exp === 'number' ? data.exp * 1000 : null;
  cookie.session = { user, expiresAt: exp ?? cookie.session?.expiresAt ?? null, via: '/api/me', at: Date.now() };
  cookie.me = data;
  cookie.meAt = Date.now();
}

/** On load: is there a session? GET /api/me with the cookies (after a refresh when our JWT has
 *  expired or is gone). No cookie and no session handle: plain signed out. */
async function resumeCookieSession(): Promise<void> {
  setState('loading');
  setStatus('Looking for a session (GET /api/me with the session cookie)…');
  try {
    acceptMe((await cookieGet('/api/me')).data);
    void loadSessions();
  } catch (e) {
    if (e instanceof SignedOut) {
      cookie.session = null;
      if (e.outcome === 'failed') cookie.meNote = `Could not look for an existing session (${e.code}).`;
    } else {
      const err = asApiError(e);
      showApiError('Could not look for an existing session.', err);
    }
  }
  renderHome();
}

/** After a login: what /api/me says about the new session. */
async function loadCookieMe(): Promise<void> {
  try {
    acceptMe((await cookieGet('/api/me')).data);
    cookie.meNote = '';
    void loadSessions();
  } catch (e) {
    if (e instanceof SignedOut) {
      cookieSignedOut(e);
      return;
    }
    const err = asApiError(e);
    cookie.meNote = `/api/me could not be read: ${err.message} (${err.code}).`;
  }
  if (location.pathname !== '/callback') renderHome();
}

/** The path of a call to remote API `api`: `echo` is asked who it saw with the call's number. */
function remotePath(api: string, seq: number): string {
  const path = `/api/remote/${encodeURIComponent(api)}/whoami`;
  return api === 'echo' ? `${path}?${new URLSearchParams({ n: String(seq) })}` : path;
}

async function callRemote(api: string, button: HTMLButtonElement): Promise<void> {
  button.disabled = true;
  const seq = ++cookie.remoteSeq;
  const path = remotePath(api, seq);
  setStatus(`Calling ${path}…`);
  let result: RemoteResult;
  try {
    const answer = await cookieGet(path);
    result = { seq, api, path, status: answer.status, ok: true, refreshed: answer.refreshed, body: answer.data };
  } catch (e) {
    if (e instanceof SignedOut) {
      cookieSignedOut(e);
      return;
    }
    const err = asApiError(e);
    const body = { error: err.code, error_description: err.message };
    result = { seq, api, path, status: err.status, ok: false, refreshed: false, body };
  }
  cookie.lastRemote = result;
  renderHome();
}

async function cookieLogout(button: HTMLButtonElement): Promise<void> {
  button.disabled = true;
  cookie.session = null;
  cookie.me = null;
  cookie.lastRemote = null;
  resetSessionsPanel();
  renderHome();
  // The cookies ride along: the API ends the session, clears them, and answers the
  // provider's logout URL (with the session's ID token as id_token_hint when the provider
  // needs one: the one token this page ever sees, and it only passes it to the address bar).
  await tellTheApi({}, { 'X-CSRF': '1' }, ' in this page; /api/logout did not answer (CODE), so the session cookie may live on.');
}

/** `POST /api/logout` with `body` and `headers`, then on to the provider's logout URL when
 * the API answers one; `failed` is the status line's end when it does not answer (`CODE` is
 * replaced by the error's code). */
async function tellTheApi(body: Record<string, string>, headers: Record<string, string>, failed: string): Promise<void> {
  setStatus('Signed out. Telling the API…');
  try {
    const data = await callApi('POST', '/api/logout', body, headers);
    if (isHttpUrl(data.logout_url)) {
      setState('redirecting');
      setStatus('Signed out. Redirecting to the provider to end its session…');
      location.assign(data.logout_url);
      return;
    }
    setStatus('Signed out.');
  } catch (e) {
    setStatus(`Signed out${failed.replace('CODE', asApiError(e).code)}`);
  }
}

// ---------------------------------------------------------------------------
// 4c. "Your sessions" (with server-side sessions): where this user is signed in.
//
//     GET /api/sessions lists the user's live sessions, newest login first, each with its
//     device label (taken at login), provider, login time, last use, and which one is this
//     browser's (`current`). DELETE /api/sessions/{sid} (X-CSRF: 1) ends one: the backend
//     deletes it and revokes its refresh token at the provider; that browser learns it at its
//     next refresh (401 session_expired) and shows the signed-out state. This browser's own
//     session is ended with "Log out" (which also ends the provider's session).
//     Both calls carry this page's credential: the token (token mode) or the cookies
//     (cookie-only). A 404 on the list means the backend keeps no sessions: the panel hides.
// ---------------------------------------------------------------------------

interface ListedSession {
  /** Our session id (the `sid` claim of its JWTs). */
  sid: string;
  /** The provider's configured name, if known. */
  provider: string | null;
  /** Unix seconds. */
  created: number;
  used: number;
  expires: number;
  device: string | null;
  current: boolean;
}

function parseListed(v: unknown): ListedSession | null {
  if (!isRecord(v) || typeof v.sid !== 'string') return null;
  const { created, used, expires } = v;
  if (typeof created !== 'number' || typeof used !== 'number' || typeof expires !== 'number') return null;
  return {
    sid: v.sid,
    provider: optString(v.provider) ?? null,
    created,
    used,
    expires,
    device: optString(v.device) ?? null,
    current: v.current === true,
  };
}

/** A failed call of the panel: the list's (cleared by the next list) or an action's (cleared by
 *  the next action). */
type SessionsError = { title: string; detail?: string; code?: string; from: 'list' | 'action' };

const sessionsPanel = {
  /** True once GET /api/sessions answered 404 (sessions_not_configured): the panel hides. */
  off: false,
  /** The last list received, or null before the first. */
  list: null as ListedSession[] | null,
  /** Counts the lists received (`#sessions[data-version]`, for the tests). */
  version: 0,
  receivedAt: null as number | null,
  /** The number of the latest load: the answer of an older one is dropped. */
  seq: 0,
  loading: false,
  /** What the last action did, shown in the panel. */
  note: null as string | null,
  /** The last failed call, shown in #error until it is cleared. */
  error: null as SessionsError | null,
};

function signedIn(): boolean {
  return COOKIE_ONLY ? cookie.session !== null : session !== null;
}

/** Forgets the list (signed out, or another login): the next sign-in reads it afresh. */
function resetSessionsPanel(): void {
  sessionsPanel.list = null;
  sessionsPanel.receivedAt = null;
  sessionsPanel.seq += 1;
  sessionsPanel.loading = false;
  sessionsPanel.note = null;
  sessionsPanel.error = null;
}

function sessionsShown(): boolean {
  return signedIn() && !sessionsPanel.off && (COOKIE_ONLY || !keeper.sessionsOff);
}

/** A call of the sessions API with this page's credential (X-CSRF: 1 either way). */
function sessionsSend(method: 'GET' | 'DELETE', path: string): Promise<{ status: number; data: Record<string, unknown> }> {
  return COOKIE_ONLY ? cookieSend(method, path) : tokenSend(method, path, { 'X-CSRF': '1' });
}

/** The session is over (a refused refresh after a refused call): the signed-out state. */
function signedOutBy(e: SignedOut): void {
  if (COOKIE_ONLY) {
    cookieSignedOut(e);
    return;
  }
  // The refresh has forgotten the token and stopped the schedule.
  resetSessionsPanel();
  if (e.outcome === 'ended') sessionEnded = true;
  renderHome();
}

function sessionsFailed(from: SessionsError['from'], title: string, e: unknown): void {
  const err = asApiError(e);
  sessionsPanel.error = { title, detail: err.message, code: err.code, from };
  showError(sessionsPanel.error);
}

/** Clears the panel's error shown in #error: any (`from` null), or only one of `from`. */
function clearSessionsError(from: SessionsError['from'] | null): void {
  const shown = sessionsPanel.error;
  if (shown && (from === null || shown.from === from)) {
    sessionsPanel.error = null;
    clearError();
  }
}

/** GET /api/sessions, then shows the list (or hides the panel on 404). */
async function loadSessions(): Promise<void> {
  if (!sessionsShown()) return;
  const seq = ++sessionsPanel.seq;
  sessionsPanel.loading = true;
  redrawSessionsPanel();
  let data: Record<string, unknown>;
  try {
    data = (await sessionsSend('GET', '/api/sessions')).data;
  } catch (e) {
    if (seq !== sessionsPanel.seq) return;
    sessionsPanel.loading = false;
    if (e instanceof SignedOut) {
      signedOutBy(e);
      return;
    }
    const err = asApiError(e);
    // 404: sessions_not_configured (or a backend without the route): nothing to show.
    if (err.status === 404) {
      sessionsPanel.off = true;
      if (!COOKIE_ONLY && err.code === 'sessions_not_configured' && !keeper.sessionsOff) {
        // Nor any refresh: without sessions there is nothing to refresh (POST /api/refresh
        // answers 404 sessions_not_configured).
        keeper.sessionsOff = true;
        stopRefreshing();
        renderHome();
        return;
      }
    } else {
      sessionsFailed('list', 'Your sessions could not be listed.', err);
    }
    redrawSessionsPanel();
    return;
  }
  if (seq !== sessionsPanel.seq) return;
  sessionsPanel.loading = false;
  const raw = data.sessions;
  const list = Array.isArray(raw) ? raw.map(parseListed) : null;
  if (!list || list.some((s) => s === null)) {
    sessionsFailed('list', 'Your sessions could not be listed.', new ApiError('The /api/sessions answer is not a list of sessions.', 'bad_response', 200));
  } else {
    sessionsPanel.list = list as ListedSession[];
    sessionsPanel.version += 1;
    sessionsPanel.receivedAt = Date.now();
    clearSessionsError('list');
  }
  redrawSessionsPanel();
}

/** "Sign out" on another device's session: DELETE /api/sessions/{sid}, then the list again. */
async function endSession(s: ListedSession, button: HTMLButtonElement): Promise<void> {
  button.disabled = true;
  clearSessionsError(null);
  const what = `the session on ${s.device ?? 'an unknown device'} (signed in ${relativeTime(s.created * 1000)})`;
  try {
    await sessionsSend('DELETE', `/api/sessions/${encodeURIComponent(s.sid)}`);
    sessionsPanel.note = `Signed out ${what}: that browser is signed out at its next refresh.`;
  } catch (e) {
    if (e instanceof SignedOut) {
      signedOutBy(e);
      return;
    }
    sessionsPanel.note = null;
    sessionsFailed('action', `Could not sign out ${what}.`, e);
  }
  await loadSessions();
}

const RELATIVE_TIME = new Intl.RelativeTimeFormat('en', { numeric: 'auto' });

/** "just now", "5 minutes ago", "in 3 hours", "yesterday", ... */
function relativeTime(ms: number): string {
  const s = Math.round((ms - Date.now()) / 1000);
  const abs = Math.abs(s);
  if (abs < 45) return s <= 0 ? 'just now' : 'in a few seconds';
  const minutes = Math.round(s / 60);
  if (Math.abs(minutes) < 60) return RELATIVE_TIME.format(minutes, 'minute');
  const hours = Math.round(s / 3600);
  if (Math.abs(hours) < 24) return RELATIVE_TIME.format(hours, 'hour');
  return RELATIVE_TIME.format(Math.round(s / 86_400), 'day');
}

/** A Unix time as "5 minutes ago (local date and time)". */
function when(unixSeconds: number): string {
  const ms = unixSeconds * 1000;
  return `${relativeTime(ms)} (${new Date(ms).toLocaleString()})`;
}

function renderSession(s: ListedSession): HTMLElement {
  const device = s.device ?? 'Unknown device';
  const provider = s.provider === null ? undefined : providerLabel(s.provider) ?? s.provider;
  let action: HTMLElement;
  if (s.current) {
    action = el('p', { class: 'muted' }, 'This browser: sign out here with “Log out”.');
  } else {
    const button = el('button', { type: 'button', class: 'secondary end-session' }, 'Sign out');
    button.setAttribute('aria-label', `Sign out the session on ${device}`);
    button.addEventListener('click', () => void endSession(s, button));
    action = el('div', { class: 'actions' }, button);
  }
  return el(
    'li',
    { class: s.current ? 'session current' : 'session', 'data-sid': s.sid, 'data-current': String(s.current) },
    el('p', { class: 'session-title' }, el('span', { class: 'session-device' }, device), s.current && el('span', { class: 'this-device' }, 'This device')),
    el(
      'dl',
      { class: 'fields' },
      ...field('Provider', 'provider', provider),
      ...field('Signed in', 'created', when(s.created)),
      ...field('Last used', 'used', when(s.used)),
      ...field('Ends, unless used', 'expires', when(s.expires)),
    ),
    action,
  );
}

/** The "Your sessions" card (`#sessions`), or null when it is not shown. */
function renderSessionsPanel(): HTMLElement | null {
  if (!sessionsShown()) return null;
  const p = sessionsPanel;
  const reload = el('button', { id: 'sessions-reload', type: 'button', class: 'secondary' }, 'Reload the list');
  reload.addEventListener('click', () => {
    clearSessionsError(null);
    void loadSessions();
  });
  if (p.loading) reload.disabled = true;
  let body: HTMLElement;
  if (p.list === null) {
    body = el('p', { id: 'sessions-empty', class: 'muted' }, p.loading ? 'Asking GET /api/sessions…' : 'Not listed yet.');
  } else if (p.list.length === 0) {
    body = el('p', { id: 'sessions-empty', class: 'muted' }, 'No live session.');
  } else {
    body = el('ul', { id: 'session-list' }, ...p.list.map(renderSession));
  }
  const count = p.list === null ? '' : String(p.list.length);
  return el(
    'section',
    { class: 'card', id: 'sessions', 'data-version': String(p.version), 'data-count': count, 'aria-busy': String(p.loading) },
    el('h2', {}, 'Your sessions'),
    el(
      'p',
      { class: 'muted' },
      'Every browser where you are signed in. “Sign out” ends that session: the backend revokes its ',
      'refresh token at the provider, and that browser is signed out at its next refresh.',
    ),
    p.note && el('p', { id: 'sessions-note', class: 'notice' }, p.note),
    body,
    el(
      'div',
      { class: 'actions' },
      reload,
      p.receivedAt !== null && el('span', { class: 'muted' }, `Listed at ${clock(p.receivedAt)}.`),
    ),
  );
}

/** Puts the panel's current state in the page in place of the shown one (if any). */
function redrawSessionsPanel(): void {
  const shown = document.getElementById('sessions');
  if (!shown) return;
  const fresh = renderSessionsPanel();
  if (fresh) shown.replaceWith(fresh);
  else shown.remove();
}

// ---------------------------------------------------------------------------
// 5. Small helpers: DOM building (text only), JWT decoding, URL checks.
// ---------------------------------------------------------------------------

type Child = Node | string | null | undefined | false;

function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string> = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    node.append(typeof c === 'string' ? document.createTextNode(c) : c);
  }
  return node;
}

function byId(id: string): HTMLElement {
  const node = document.getElementById(id);
  if (!node) throw new Error(`#${id} is missing from index.html`);
  return node;
}

const statusEl = byId('status');
const errorEl = byId('error');
const viewEl = byId('view');

// The posture, on the page and on <body data-mode>.
document.body.dataset.mode = COOKIE_ONLY ? 'cookie' : 'token';
byId('mode').textContent = COOKIE_ONLY
  ? 'Posture: cookie-only (RFC 10017 section 6.1, backend-for-frontend). This page never holds a token: our JWT stays in an HttpOnly cookie, and the backend attaches a token to the calls it forwards to the APIs.'
  : 'Posture: token in the page (RFC 10017 section 6.2, token-mediating backend). The API hands this page our JWT, which it keeps for this tab and sends as a Bearer token.';

type PageState = 'loading' | 'working' | 'redirecting' | 'signed-out' | 'signed-in' | 'error';

function setState(state: PageState): void {
  document.body.dataset.state = state;
}

function setStatus(text: string): void {
  statusEl.textContent = text;
}

function clearError(): void {
  errorEl.replaceChildren();
  errorEl.hidden = true;
}

function showError(opts: { title: string; detail?: string; code?: string; back?: boolean }): void {
  const parts: HTMLElement[] = [el('p', { class: 'error-title' }, opts.title)];
  if (opts.detail) parts.push(el('p', { class: 'error-detail' }, opts.detail));
  if (opts.code) parts.push(el('p', { class: 'error-code' }, 'Error code: ', el('code', {}, opts.code)));
  if (opts.back) parts.push(el('p', {}, el('a', { id: 'back', href: '/' }, 'Back to the start')));
  errorEl.replaceChildren(...parts);
  errorEl.hidden = false;
}

function showApiError(title: string, e: unknown, back = false): void {
  const err = asApiError(e);
  showError({ title, detail: err.message, code: err.code, back });
}

function truncate(s: string, max = 200): string {
  return s.length > max ? `${s.slice(0, max)}…` : s;
}

function base64UrlDecode(part: string): string {
  const b64 = part.replace(/-/g, '+').replace(/_/g, '/');
  const padded = b64 + '='.repeat((4 - (b64.length % 4)) % 4);
  const bin = atob(padded);
  const bytes = Uint8Array.from(bin, (c) => c.charCodeAt(0));
  return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
}

/** Decodes a JWT for display. No signature check: that is the backend's job. */
function decodeJwt(token: string): { header: unknown; claims: Record<string, unknown> } | null {
  const parts = token.split('.');
  if (parts.length !== 3) return null;
  try {
    const header: unknown = JSON.parse(base64UrlDecode(parts[0]));
    const claims: unknown = JSON.parse(base64UrlDecode(parts[1]));
    return isRecord(claims) ? { header, claims } : null;
  } catch {
    return null;
  }
}

/** A same-origin path: starts with exactly one '/', no scheme-relative or backslash tricks. */
function isLocalPath(v: unknown): v is string {
  if (typeof v !== 'string' || !v.startsWith('/') || v.startsWith('//') || v.startsWith('/\\')) return false;
  if (/[\u0000-\u001f\u007f]/.test(v)) return false;
  try {
    return new URL(v, location.origin).origin === location.origin;
  } catch {
    return false;
  }
}

function isHttpUrl(v: unknown): v is string {
  if (typeof v !== 'string') return false;
  try {
    const u = new URL(v);
    return u.protocol === 'https:' || u.protocol === 'http:';
  } catch {
    return false;
  }
}

function formatTime(ms: number): string {
  const d = new Date(ms);
  const mins = Math.round((ms - Date.now()) / 60000);
  const rel = mins > 0 ? `in ${mins} min` : mins === 0 ? 'now' : `${-mins} min ago`;
  return `${d.toLocaleString()} (${d.toISOString()}, ${rel})`;
}

// ---------------------------------------------------------------------------
// 6. Views.
// ---------------------------------------------------------------------------

const SERVER_FLOW_RETURN_TO = '/?flow=server';
const SERVER_LOGIN_HREF = `/authorization-code/login?${new URLSearchParams({ return_to: SERVER_FLOW_RETURN_TO })}`;

function renderHome(): void {
  const q = new URLSearchParams(location.search);
  const serverError = q.get('error');
  const serverFlow = q.get('flow') === 'server';

  clearError();
  if (serverError) {
    const code = truncate(serverError, 100);
    // Only our stable code is shown: anything else in the address bar (an error_description)
    // may be an attacker's text, since anyone can link to this page with any query.
    showError({ title: `The server flow login failed: ${code}`, detail: undefined, code });
  } else if (sessionsPanel.error && signedIn()) {
    // The last failed call of "Your sessions" stays in view until one succeeds.
    showError(sessionsPanel.error);
  }

  if (COOKIE_ONLY) {
    renderCookieHome(serverFlow);
    return;
  }

  const cards: HTMLElement[] = [];
  if (keeper.notice) cards.push(el('p', { id: 'refresh-notice', class: 'notice' }, keeper.notice));
  if (serverFlow) cards.push(renderServerFlowCard());
  cards.push(session ? renderSignedInCard(session) : renderSignedOutCard(serverFlow));
  const panel = renderSessionsPanel();
  if (panel) cards.push(panel);
  viewEl.replaceChildren(...cards);

  if (session) {
    const who = session.user.name || session.user.email || session.user.sub;
    setStatus(`Signed in as ${who}.`);
    setState('signed-in');
  } else if (sessionEnded) {
    setStatus('Your session has ended.');
    setState('signed-out');
  } else {
    setStatus(serverFlow ? 'Signed in with the server flow (no token held by this page).' : 'Not signed in.');
    setState('signed-out');
  }
}

/** One `<dt>`/`<dd>` pair of a field list (`data-field` names it for the tests). */
function field(label: string, name: string, value: string | undefined): HTMLElement[] {
  return [el('dt', {}, label), el('dd', { 'data-field': name }, value ?? '—')];
}

/** The user's name, e-mail and subject as the page shows them (`#user`), then `more`. */
function userList(user: { name?: string; email?: string; sub: string }, more: HTMLElement[] = []): HTMLElement {
  return el(
    'dl',
    { id: 'user', class: 'fields' },
    ...field('Name', 'name', user.name),
    ...field('Email', 'email', user.email),
    ...field('Subject', 'sub', user.sub),
    ...more,
  );
}

function renderSignedOutCard(serverFlow: boolean): HTMLElement {
  const loginButton = (id: string, text: string, provider?: string) => {
    const button = el('button', { id, type: 'button' }, text);
    button.addEventListener('click', () => void startLogin(button, provider));
    return button;
  };
  const loginButtons = PROVIDERS.length
    ? PROVIDERS.map((p) => loginButton(`login-${p.name}`, `Sign in with ${p.label}`, p.name))
    : [loginButton('login', 'Log in')];
  return el(
    'section',
    { class: 'card', id: 'signed-out' },
    el('h2', {}, sessionEnded ? 'Your session has ended' : serverFlow ? 'No token held by this page' : 'Not signed in'),
    sessionEnded &&
      el(
        'p',
        { id: 'session-ended' },
        'You were signed out: you logged out in another tab, signed this session out from another ',
        'device (“Your sessions”), the session reached its time limit, or the provider ended it. ',
        COOKIE_ONLY ? 'Log in to continue.' : 'This page no longer holds a token. Log in to continue.',
      ),
    el(
      'p',
      {},
      PROVIDERS.length ? 'Each “Sign in with …” button' : '“Log in”',
      COOKIE_ONLY
        ? ' uses the single-page-app flow: this page posts the code to the API, which answers who signed in and keeps our token in an HttpOnly session cookie. '
        : ' uses the single-page-app flow: the API returns a token to this page. ',
      COOKIE_ONLY
        ? 'The server flow does the same with redirects only.'
        : 'The server flow leaves the token with the backend, which sets an HttpOnly session cookie instead.',
    ),
    el(
      'div',
      { class: 'actions' },
      ...loginButtons,
      el('a', { id: 'server-login', class: 'button secondary', href: SERVER_LOGIN_HREF }, 'Log in with the server flow'),
    ),
  );
}

function renderSignedInCard(s: Session): HTMLElement {
  const decoded = decodeJwt(s.token);
  const exp = decoded && typeof decoded.claims.exp === 'number' ? decoded.claims.exp * 1000 : s.expires_at;
  const expired = exp <= Date.now();

  const logoutButton = el('button', { id: 'logout', type: 'button' }, 'Log out');
  logoutButton.addEventListener('click', () => void logout(logoutButton));
  const refreshButton = el('button', { id: 'refresh', type: 'button', class: 'secondary' }, 'Refresh now');
  refreshButton.addEventListener('click', () => void refreshNow(refreshButton));

  return el(
    'section',
    { class: 'card', id: 'signed-in' },
    el('h2', {}, 'Signed in'),
    userList(s.user, PROVIDERS.length ? field('Provider', 'provider', providerLabel(storedItem(PROVIDER_KEY))) : []),
    el(
      'p',
      { id: 'expiry', 'data-exp': String(Math.floor(exp / 1000)), class: expired ? 'expired' : '' },
      expired ? 'The token expired ' : 'The token expires ',
      formatTime(exp),
      expired && keeper.sessionsOff ? '. Log in again.' : '.',
    ),
    el('p', { id: 'session', class: 'muted' }, describeRefresh()),
    el('h2', {}, `Our ${s.token_type} token, decoded here (display only, not verified)`),
    el(
      'pre',
      { id: 'claims' },
      decoded ? JSON.stringify({ header: decoded.header, claims: decoded.claims }, null, 2) : 'The token is not a decodable JWT.',
    ),
    el('div', { class: 'actions' }, logoutButton, !keeper.sessionsOff && refreshButton),
  );
}

/** The cookie-only page: signed in (the user, /api/me, the remote APIs) or signed out. */
function renderCookieHome(serverFlow: boolean): void {
  const s = cookie.session;
  const panel = renderSessionsPanel();
  const card = s ? renderCookieSignedInCard(s, serverFlow) : renderSignedOutCard(false);
  viewEl.replaceChildren(...(panel ? [card, panel] : [card]));
  if (s) {
    setStatus(`Signed in as ${s.user.name || s.user.email || s.user.sub}.`);
    setState('signed-in');
  } else if (sessionEnded) {
    setStatus('Your session has ended.');
    setState('signed-out');
  } else {
    setStatus('Not signed in.');
    setState('signed-out');
  }
}

/** The label of remote API `name`'s button. */
function remoteLabel(name: string): string {
  if (name === 'echo') return 'Call the API (our token)';
  if (name === 'idp') return 'Call the API (provider token)';
  return `Call the API “${name}”`;
}

function renderCookieSignedInCard(s: CookieSession, serverFlow: boolean): HTMLElement {
  const logoutButton = el('button', { id: 'logout', type: 'button' }, 'Log out');
  logoutButton.addEventListener('click', () => void cookieLogout(logoutButton));
  const refreshButton = el('button', { id: 'refresh', type: 'button', class: 'secondary' }, 'Refresh now');
  refreshButton.addEventListener('click', () => void cookieRefreshNow(refreshButton));

  const expiry =
    s.expiresAt === null
      ? el('p', { id: 'expiry' }, 'When our JWT in the session cookie expires is not known here.')
      : el(
          'p',
          { id: 'expiry', 'data-exp': String(Math.floor(s.expiresAt / 1000)) },
          s.expiresAt <= Date.now() ? 'Our JWT in the session cookie expired ' : 'Our JWT in the session cookie expires ',
          formatTime(s.expiresAt),
          s.expiresAt <= Date.now() ? ': the next call renews it.' : '.',
        );

  const remoteButtons = REMOTE_APIS.map((name) => {
    const button = el('button', { id: `call-${name}`, type: 'button', class: 'secondary' }, remoteLabel(name));
    button.addEventListener('click', () => void callRemote(name, button));
    return button;
  });
  const r = cookie.lastRemote;
  const result = r
    ? el(
        'pre',
        {
          id: 'remote-result',
          'data-seq': String(r.seq),
          'data-api': r.api,
          'data-path': r.path,
          'data-status': r.status === null ? '' : String(r.status),
          'data-ok': String(r.ok),
          'data-refreshed': String(r.refreshed),
        },
        JSON.stringify(r.body, null, 2),
      )
    : el('p', { id: 'remote-note', class: 'muted' }, 'No call yet.');
  const resultTitle =
    r &&
    el(
      'p',
      { class: 'muted' },
      `Call ${r.seq}: GET ${r.path} answered ${r.status ?? 'nothing'}`,
      r.refreshed ? ', after POST /api/refresh renewed the expired session cookie' : '',
      r.ok ? '. What the API saw:' : '.',
    );

  return el(
    'section',
    { class: 'card', id: 'signed-in' },
    el('h2', {}, serverFlow ? 'Signed in with the server flow (cookie-only)' : 'Signed in (cookie-only)'),
    userList(s.user),
    expiry,
    el(
      'p',
      { id: 'session', class: 'muted' },
      `This page holds no token. The session was last confirmed by ${s.via} at ${clock(s.at)}; `,
      'when our JWT in the cookie has expired, a call answers 401 and the page asks POST /api/refresh ',
      `to renew the cookie, then tries once more (renewed ${cookie.refreshes} time${cookie.refreshes === 1 ? '' : 's'} so far).`,
    ),
    el('h2', {}, 'What /api/me said (the HttpOnly cookie authenticates the call)'),
    cookie.me && el('p', { class: 'muted' }, `At ${clock(cookie.meAt)}: the claims of our JWT in the cookie then.`),
    cookie.me
      ? el('pre', { id: 'me-claims' }, JSON.stringify(cookie.me, null, 2))
      : el('p', { id: 'me-note', class: 'muted' }, cookie.meNote || 'Nothing yet.'),
    el('h2', {}, 'The APIs, through /api/remote/ (the backend attaches the token)'),
    remoteButtons.length
      ? el('div', { class: 'actions', id: 'remote' }, ...remoteButtons)
      : el('p', { class: 'muted' }, 'No remote API is configured (DEMO_REMOTE_APIS).'),
    resultTitle,
    result,
    el('div', { class: 'actions' }, logoutButton, refreshButton),
  );
}

function clock(ms: number): string {
  return new Date(ms).toLocaleTimeString();
}

function describeRefresh(): string {
  if (keeper.sessionsOff) return 'The backend keeps no session: when the token expires, log in again.';
  const received = keeper.receivedAt === null ? 'before this page loaded' : clock(keeper.receivedAt);
  const next = keeper.nextAt === null ? 'shortly' : `at ${clock(keeper.nextAt)}`;
  return `Token received ${received}; the page asks POST /api/refresh for the next one ${next}.`;
}

function renderServerFlowCard(): HTMLElement {
  const me = el('div', { id: 'me' }, el('p', { id: 'me-note', class: 'muted' }, 'Asking /api/me…'));
  void loadMe(me);
  return el(
    'section',
    { class: 'card', id: 'server-flow' },
    el('h2', { class: 'ok' }, 'Signed in with the server flow'),
    el('p', { class: 'muted' }, 'The backend holds the session in an HttpOnly cookie that this page cannot read.'),
    me,
  );
}

async function loadMe(target: HTMLElement): Promise<void> {
  try {
    const data = await callApi('GET', '/api/me');
    target.replaceChildren(
      el('p', { class: 'muted' }, 'What /api/me says about this session:'),
      el('pre', { id: 'me-claims' }, JSON.stringify(data, null, 2)),
    );
  } catch (e) {
    const err = asApiError(e);
    const text =
      err.status === 404
        ? '/api/me is not available yet (HTTP 404), so there is nothing more to show.'
        : `/api/me could not be read: ${err.message} (${err.code}).`;
    target.replaceChildren(el('p', { id: 'me-note', class: 'muted' }, text));
  }
}

// ---------------------------------------------------------------------------
// 7. Actions.
// ---------------------------------------------------------------------------

async function startLogin(button: HTMLButtonElement, provider?: string): Promise<void> {
  clearError();
  button.disabled = true;
  setState('working');
  setStatus('Asking the API for a login URL…');
  try {
    const query = new URLSearchParams({ return_to: '/' });
    if (provider) query.set('provider', provider);
    const data = await callApi('GET', `/api/login?${query}`);
    if (!isHttpUrl(data.login_url)) {
      throw new ApiError('The API answer has no usable login_url.', 'bad_response', 200);
    }
    storeItem(PENDING_PROVIDER_KEY, provider ?? null);
    setState('redirecting');
    setStatus('Redirecting to the provider…');
    location.assign(data.login_url);
  } catch (e) {
    showApiError('Could not start the login.', e);
    button.disabled = false;
    setState('signed-out');
    setStatus('Not signed in.');
  }
}

async function logout(button: HTMLButtonElement): Promise<void> {
  button.disabled = true;
  const token = session?.token;
  // The provider of this tab's login: without a server-side session, the API logs out of the
  // one named (else its default); with one, it uses the session's own.
  const provider = storedItem(PROVIDER_KEY);
  storeItem(PROVIDER_KEY, null);
  stopRefreshing();
  forgetSession();
  resetSessionsPanel();
  renderHome();
  // X-CSRF: the API refuses cookie-authenticated state changes without it (a cross-site form
  // cannot send it); the server flow's session cookie rides along with credentials: 'include'.
  const headers: Record<string, string> = { 'X-CSRF': '1' };
  if (token) headers.Authorization = `Bearer ${token}`;
  await tellTheApi(provider ? { provider } : {}, headers, '. The token is forgotten in this tab; /api/logout did not answer (CODE), ignored.');
}

async function completeCallback(p: CallbackParams | null): Promise<void> {
  clearError();
  viewEl.replaceChildren();
  const fail = (opts: { title: string; detail?: string; code?: string }) => {
    showError({ ...opts, back: true });
    setState('error');
    setStatus('Not signed in.');
  };

  if (!p || (p.code === null && p.state === null && p.error === null)) {
    fail({ title: 'Nothing to complete here: this page is only reached through the provider’s redirect.' });
    return;
  }
  if (p.error !== null) {
    fail({ title: `The provider refused the login: ${truncate(p.error, 100)}` });
    return;
  }
  if (!p.code || !p.state) {
    fail({ title: 'The provider’s redirect has no code or no state.', code: 'invalid_callback' });
    return;
  }

  setState('working');
  setStatus('Completing the login…');
  const body: Record<string, string> = { code: p.code, state: p.state };
  if (p.iss !== null) body.iss = p.iss;

  let data: Record<string, unknown>;
  try {
    data = await callApi('POST', '/api/callback', body);
  } catch (e) {
    const err = asApiError(e);
    fail({ title: 'The login could not be completed.', detail: err.message, code: err.code });
    return;
  }

  if (COOKIE_ONLY) {
    let user: User;
    try {
      user = cookieOnlyUser(data);
    } catch (e) {
      const err = asApiError(e);
      fail({ title: 'The login could not be completed.', detail: err.message, code: err.code });
      return;
    }
    sessionEnded = false;
    cookie.session = { user, expiresAt: expiresAtFrom(data.expires_in), via: 'login', at: Date.now() };
    cookie.me = null;
    cookie.meNote = 'Asking /api/me…';
    cookie.lastRemote = null;
    resetSessionsPanel();
    history.replaceState(null, '', localReturnTo(data.return_to));
    route();
    void loadCookieMe();
    return;
  }

  const fresh = sessionFrom(data);
  if (!fresh) {
    fail({ title: 'The login could not be completed.', detail: 'The API answer has no token or no user.', code: 'bad_response' });
    return;
  }
  storeItem(PROVIDER_KEY, storedItem(PENDING_PROVIDER_KEY));
  storeItem(PENDING_PROVIDER_KEY, null);
  acceptToken(fresh);
  resetSessionsPanel();

  history.replaceState(null, '', localReturnTo(data.return_to));
  route();
  void loadSessions();
}

/** The callback's return_to when it is a path of this app other than /callback, else `/`. */
function localReturnTo(v: unknown): string {
  return isLocalPath(v) && new URL(v, location.origin).pathname !== '/callback' ? v : '/';
}

// ---------------------------------------------------------------------------
// 8. Routing on location.pathname.
// ---------------------------------------------------------------------------

function route(): void {
  if (location.pathname === '/callback') {
    const p = callbackParams;
    callbackParams = null; // one use only
    void completeCallback(p);
  } else {
    renderHome();
  }
}

// Never a blank screen: anything unexpected ends up in #error as text.
window.addEventListener('error', (ev) => {
  showError({ title: 'Unexpected error in the page.', detail: String(ev.message), code: 'page_error' });
});
window.addEventListener('unhandledrejection', (ev) => {
  showApiError('Unexpected error in the page.', ev.reason);
});

/** The first render of a page load. Off the callback page (which gets its token from the
 *  login) and the server flow's page (whose session is the backend's cookie, not a token
 *  here), the page asks /api/refresh once: a reload or a new tab resumes the session without
 *  the provider, and a tab whose session ended elsewhere learns it. */
function start(): void {
  if (COOKIE_ONLY) {
    // The callback page completes a login; any other page asks /api/me whether the cookies
    // carry a session (the server flow's included).
    if (location.pathname === '/callback') route();
    else void resumeCookieSession();
    return;
  }
  const serverFlow = new URLSearchParams(location.search).get('flow') === 'server';
  if (location.pathname === '/callback' || serverFlow) {
    route();
    return;
  }
  if (session) {
    renderHome();
  } else {
    setState('loading');
    setStatus('Looking for a session…');
  }
  void keepSession();
}

start();
