// Support code of shared sessions (issue 12), imported by the Rust side: the redacted printing
// of the fleet machine's actions, and one store call with a deadline.

// An action ({ action: 'store', op, ... } / { action: 'send', request } / { action: 'done',
// completion }): plain data, shown without secrets (`toString`, Node's inspect, and
// `JSON.stringify` through a non-enumerable `toJSON`): a commit's entry (sealed, but in clear
// under `plaintext: true`) and a request's body never show.
function actionView() {
  const shown = { ...this };
  if (shown.entry !== undefined) shown.entry = `[redacted, ${shown.entry.length} characters]`;
  if (shown.request !== undefined) shown.request = `${shown.request.method} ${shown.request.url} [redacted]`;
  return shown;
}
function shownAction() {
  return `FleetAction ${JSON.stringify(actionView.call(this))}`;
}
export function makeAction(o) {
  Object.defineProperty(o, 'toString', { value: shownAction });
  Object.defineProperty(o, 'toJSON', { value: actionView });
  Object.defineProperty(o, Symbol.for('nodejs.util.inspect.custom'), { value: shownAction });
  return o;
}

// Timers above this many milliseconds fire at once in Node: no deadline then.
const MAX_TIMER = 2147483647;

// `store[action.op](action, { signal })`, settled within `timeout` ms: resolves with what the
// store answered, rejects with an Error when it threw, rejected, or did not answer in time (the
// signal then aborts, so that the store can drop the call). Never an unhandled rejection.
export function storeCall(store, action, timeout) {
  const op = action.op;
  return new Promise((resolve, reject) => {
    const controller = typeof AbortController === 'function' ? new AbortController() : undefined;
    let timer;
    if (timeout < MAX_TIMER) {
      timer = setTimeout(() => {
        const e = new Error(`no answer within ${timeout} ms`);
        if (controller) controller.abort(e);
        reject(e);
      }, timeout);
    }
    const settle = (f) => (v) => {
      clearTimeout(timer);
      f(v);
    };
    let answer;
    try {
      answer = store[op](action, { signal: controller && controller.signal });
    } catch (e) {
      answer = Promise.reject(e);
    }
    Promise.resolve(answer).then(settle(resolve), settle(reject));
  });
}
