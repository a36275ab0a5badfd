// The Node peer's runtime alone (bench/coldstart's `noop`): runtime.mjs with a handler that
// imports nothing and answers at once, so the harness can say what the runtime itself costs.
export const handler = async () => ({ statusCode: 200, headers: { 'content-type': 'application/json' }, body: '{}' });
