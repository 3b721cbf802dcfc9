// Driver for the official Node.js SDK, cos-nodejs-sdk-v5, through the SDK's own request method
// (cos.request: the SDK signs, encodes, retries and parses). A thin adapter, no test logic:
//   ci-conformance sdk --driver "node drivers/nodejs-cos-sdk/driver.js"
// The protocol is in the README, "Writing a driver".
'use strict';
const COS = require('cos-nodejs-sdk-v5');

const env = process.env;
const task = JSON.parse(env.CI_CONFORMANCE_TASK);
const endpoint = env.CI_CONFORMANCE_ENDPOINT;
const cos = new COS({
  SecretId: env.COS_SECRET_ID,
  SecretKey: env.COS_SECRET_KEY,
  SecurityToken: env.COS_SECURITY_TOKEN,
  Protocol: new URL(endpoint).protocol,
  Timeout: Number(env.CI_CONFORMANCE_TIMEOUT || 30) * 1000,
});

const emit = (item) => process.stdout.write(JSON.stringify(item) + '\n');
emit({ sdk: { name: 'cos-nodejs-sdk-v5', version: COS.version } });
const asList = (x) => (x === undefined || x === null || x === '' ? [] : [].concat(x));

// One request with the SDK; resolves to the parsed <Response>.
function call(method, key, extra) {
  return new Promise((resolve, reject) => {
    cos.request({ Method: method, Key: key, Url: `${endpoint}/${key}`, ...extra }, (err, data) =>
      err ? reject(err) : resolve((data && data.Response) || {}),
    );
  });
}

const emitJobs = (response) => asList(response.JobsDetail).forEach((job) => emit({ job }));

async function main() {
  const key = 'inventorytriggerjob';
  if (task.op === 'list') {
    let token = '';
    for (;;) {
      const query = { ...task.params, ...(token ? { nextToken: token } : {}) };
      const response = await call('GET', key, { Query: query });
      emitJobs(response);
      token = response.NextToken || '';
      if (!task.walk) return emit({ nextToken: token });
      if (!token) return;
    }
  } else if (task.op === 'get') {
    const response = await call('GET', `${key}/${task.jobId}`);
    emitJobs(response);
    // the IDs the answer says do not exist (NonExistJobIds)
    const missing = asList(response.NonExistJobIds).flatMap((ids) => String(ids).split(',')).filter(Boolean);
    if (missing.length) emit({ notFound: missing });
  } else if (task.op === 'create') {
    const body = COS.util.json2xml({ Request: task.job });
    emitJobs(await call('POST', key, { Body: body, Headers: { 'Content-Type': 'application/xml' } }));
  } else if (task.op === 'cancel') {
    await call('PUT', `${key}/${task.jobId}`, { Action: 'cancel' }); // no response body
  } else {
    process.exitCode = 3;
  }
}

main().catch((err) => {
  const error = err.error && typeof err.error === 'object' ? err.error : {};
  emit({
    error: {
      status: err.statusCode || null,
      code: err.code || '',
      message: err.message || '',
      requestId: error.RequestId || '',
    },
  });
});
