// The models' own monitoring (in the wasm core) as the server exposes it: prediction ids in
// responses, ground truth by feedback, drift and statistics per model, their Prometheus
// families on /metrics, and prediction logs shipped to Workers Logs (console) or a Queue.
import { predictionId } from '../core.js';
import { HttpError } from './http.js';

export { predictionId };

/** Predictions whose owner each model remembers: as many as its monitor joins feedback to by default. */
const OWNED = 10_000;

/**
 * Remembers who made prediction `id` of `entry`'s model: feedback is taken from that
 * principal only (see `checkOwner`). The oldest are forgotten first, past `OWNED`.
 */
export function rememberOwner(entry, id, who) {
  if (id === undefined) return;
  entry.owners ??= new Map();
  entry.owners.set(id, who.name);
  if (entry.owners.size > OWNED) entry.owners.delete(entry.owners.keys().next().value);
}

/**
 * Refuses feedback on a prediction `who` did not make, unless they hold the `feedback:any`
 * (or `admin`) scope, as the core refuses an id it does not hold: the answer is the same
 * whether the prediction is someone else's or does not exist, so it tells nothing about
 * other callers' predictions.
 */
export function checkOwner(entry, id, who) {
  if (who.scopes.has('feedback:any') || who.scopes.has('admin')) return;
  if (entry.owners?.get(id) !== who.name) {
    throw new HttpError(
      404,
      `E_PREDICTION_UNKNOWN: unknown prediction: no prediction '${id}' made by '${who.name}' is held by model '${entry.name}' version ${entry.version}`,
    );
  }
}

/** `{ "id": "...", "label": v }` or `{ "id": "...", "labels": [v, null, ...] }`. */
export function parseFeedback(body) {
  if (!body || typeof body !== 'object' || Array.isArray(body))
    throw new HttpError(400, 'the request body must be a JSON object');
  if (typeof body.id !== 'string')
    throw new HttpError(400, "'id' must be the prediction id a response gave (parameters.prediction_id)");
  const hasLabel = 'label' in body,
    hasLabels = 'labels' in body;
  if (hasLabel === hasLabels)
    throw new HttpError(400, "give either 'label' (one row) or 'labels' (one per row, null to skip a row)");
  if (hasLabels && !Array.isArray(body.labels)) throw new HttpError(400, "'labels' must be an array");
  return { id: body.id, labels: hasLabels ? body.labels : body.label };
}

/**
 * Prometheus families of several expositions merged by name, so that each family (its
 * HELP, TYPE and samples) appears once however many models report it.
 */
export function mergeFamilies(texts) {
  const families = new Map();
  for (const text of texts) {
    let current = null;
    for (const line of text.split('\n')) {
      if (!line) continue;
      const help = /^# HELP (\S+)/.exec(line);
      if (help) {
        current = families.get(help[1]);
        if (!current) families.set(help[1], (current = { head: [line], samples: [] }));
        continue;
      }
      if (line.startsWith('# TYPE')) {
        if (current && current.head.length === 1) current.head.push(line);
        continue;
      }
      current?.samples.push(line);
    }
  }
  return (
    [...families.values()].map((f) => [...f.head, ...f.samples].join('\n')).join('\n') + (families.size ? '\n' : '')
  );
}

/** Every loaded model's families, labelled with its name, version and the isolate's id. */
export function modelExposition(models, isolate) {
  return mergeFamilies(
    models.entries
      .filter((e) => e.model?.prometheus)
      .map((e) => {
        try {
          return e.model.prometheus({ model: e.name, version: e.version, isolate });
        } catch {
          return ''; // A model loaded with monitoring: false has no families.
        }
      }),
  );
}

/** Applies the deployment's log settings to a model, once per settings. */
export function configureLogs(entry, settings) {
  if (entry.logSettings === settings.log || !entry.model?.configureLogs) return;
  entry.logSettings = settings.log;
  try {
    entry.model.configureLogs(settings.log.mode === 'off' ? false : settings.log.options);
  } catch (e) {
    // A model loaded with monitoring: false has no logs to configure; it still serves.
    if (settings.log.mode !== 'off') console.warn(`${entry.name}: prediction logs are off: ${e?.message ?? e}`);
  }
}

/** Lines to `queue` in batches of 100 (a Queue's limit), kept alive by `waitUntil`. */
function sendLines(queue, lines, ctx, what) {
  const sends = [];
  for (let i = 0; i < lines.length; i += 100) {
    sends.push(
      queue.sendBatch(lines.slice(i, i + 100).map((line) => ({ body: JSON.parse(line), contentType: 'json' }))),
    );
  }
  const done = Promise.all(sends).catch((e) => console.error(`${what}: the queue refused a batch: ${e?.message ?? e}`));
  if (ctx.waitUntil) ctx.waitUntil(done);
}

/**
 * The rows feedback just labelled, to FEEDBACK_QUEUE's Queue when one is set; without one
 * they wait in the model for GET .../feedback/export. A queue named but not bound is logged,
 * and the rows keep waiting.
 */
export function shipFeedback(entry, ctx) {
  const name = ctx.settings.feedbackQueue;
  if (!name) return;
  const queue = ctx.env?.[name];
  if (!queue) {
    console.error(
      `edgeinfer: FEEDBACK_QUEUE names '${name}', which the Worker does not have; labelled rows wait for GET .../feedback/export`,
    );
    return;
  }
  const lines = entry.model.exportFeedback();
  if (lines.length) sendLines(queue, lines, ctx, 'labelled rows');
}

/** Hands the lines a request made to the sink: console (Workers Logs) or a Queue binding. */
export function shipLogs(entry, ctx) {
  const log = ctx.settings.log;
  if (log.mode === 'off' || !entry.model?.takeLogs) return;
  const lines = entry.model.takeLogs();
  if (!lines.length) return;
  const queue = log.mode === 'queue' ? ctx.env?.[log.queue] : null;
  if (!queue) {
    for (const line of lines) console.log(line);
    return;
  }
  sendLines(queue, lines, ctx, 'prediction logs');
}
