// Runs fetch() for each probe spec, concurrently, and reports what the page could see.
// A spec: {probe, url, method, headers, body, credentials, mode, redirect, timeout_ms, kind}.
// kind "websocket": the page opens a WebSocket to url, sends "ping" once it is open, and reports
// whether it could exchange messages.
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

function corsProbeSocket(spec) {
  return new Promise((resolve) => {
    const messages = [];
    let opened = false;
    let settled = false;
    let socket = null;
    const finish = (extra) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (socket !== null && socket.readyState <= WebSocket.OPEN) socket.close();
      resolve({
        probe: spec.probe,
        // Messages went both ways: the page sent one and got an answer.
        received: opened && messages.length > 0,
        messages: messages,
        secure_context: window.isSecureContext,
        page_origin: self.origin,
        ...extra,
      });
    };
    const timer = setTimeout(() => finish({timed_out: true}), spec.timeout_ms);
    try {
      socket = new WebSocket(spec.url);
    } catch (error) {
      finish({error: String(error)});
      return;
    }
    socket.onopen = () => { opened = true; socket.send("ping"); };
    socket.onmessage = (event) => { messages.push(String(event.data)); finish({}); };
    // The error event carries no reason; the close event after it has the code.
    socket.onclose = (event) => finish({
      close_code: event.code,
      error: opened ? null : `WebSocket closed before opening (code ${event.code})`,
    });
  });
}

window.corsProbe = (specs) => Promise.all(
  specs.map((spec) => (spec.kind === "websocket" ? corsProbeSocket(spec) : corsProbeOne(spec))),
);
