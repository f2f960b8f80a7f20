// Runs fetch() for each probe spec, concurrently, and reports what the page could see.
// A spec: {probe, url, method, headers, body, credentials, mode, redirect, timeout_ms}.
"use strict";

async function corsProbeOne(spec) {
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => { timedOut = true; controller.abort(); }, spec.timeout_ms);
  const init = {
    method: spec.method,
    headers: spec.headers,
    credentials: spec.credentials,
    mode: spec.mode,
    redirect: spec.redirect,
    signal: controller.signal,
  };
  if (spec.body !== null) {
    init.body = spec.body;
  }
  try {
    const response = await fetch(spec.url, init);
    const headers = {};
    response.headers.forEach((value, name) => { headers[name] = value; });
    await response.arrayBuffer();
    return {
      probe: spec.probe,
      received: true,
      status: response.status,
      headers: headers,
      response_type: response.type,
      redirected: response.redirected,
      secure_context: window.isSecureContext,
      page_origin: self.origin,
    };
  } catch (error) {
    return {
      probe: spec.probe,
      received: false,
      error: String(error),
      timed_out: timedOut,
      secure_context: window.isSecureContext,
      page_origin: self.origin,
    };
  } finally {
    clearTimeout(timer);
  }
}

window.corsProbe = (specs) => Promise.all(specs.map(corsProbeOne));
