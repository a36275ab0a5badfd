// A minimal Lambda Runtime API client, standing in for the Node.js managed runtime's bootstrap.
//
//   node runtime.mjs app.login      (handler = <module>.<export>, module relative to this folder)
//
// Why not the npm `aws-lambda-ric`: 4.x requires Node.js >= 22 and a node-gyp native build;
// 3.x builds curl and aws-lambda-cpp from source at install and needs cmake (absent here:
// `npm install aws-lambda-ric@3.3.0` stops with "cmake is not installed"). This loop does what
// the managed runtime does for these handlers: import the module (its top-level awaits are the
// init), then GET /invocation/next, call the handler, POST /invocation/{id}/response, repeat.
// Errors go to /init/error and /invocation/{id}/error.

import http from 'node:http';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const api = process.env.AWS_LAMBDA_RUNTIME_API;
const [moduleName, exportName] = (process.argv[2] || process.env._HANDLER || '').split('.');
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
const base = '/2018-06-01/runtime';

function call(method, route, body) {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: api.split(':')[0],
        port: Number(api.split(':')[1]),
        path: `${base}${route}`,
        method,
        agent,
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
      },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => resolve({ headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

const errorBody = (e) => ({ errorType: e?.name || 'Error', errorMessage: String(e?.message || e) });

let handler;
try {
  const mod = await import(pathToFileURL(path.join(import.meta.dirname, `${moduleName}.mjs`)).href);
  handler = mod[exportName];
  if (typeof handler !== 'function') throw new Error(`no handler ${moduleName}.${exportName}`);
} catch (e) {
  console.error('init failed:', e);
  await call('POST', '/init/error', errorBody(e));
  process.exit(1);
}

for (;;) {
  const next = await call('GET', '/invocation/next');
  const id = next.headers['lambda-runtime-aws-request-id'];
  const context = {
    awsRequestId: id,
    invokedFunctionArn: next.headers['lambda-runtime-invoked-function-arn'],
    getRemainingTimeInMillis: () => Number(next.headers['lambda-runtime-deadline-ms']) - Date.now(),
  };
  try {
    const result = await handler(JSON.parse(next.body), context);
    await call('POST', `/invocation/${id}/response`, result);
  } catch (e) {
    console.error('invocation failed:', e);
    await call('POST', `/invocation/${id}/error`, errorBody(e));
  }
}
