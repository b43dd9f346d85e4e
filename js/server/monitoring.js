// The models' own monitoring (in the wasm core) as the server exposes it: prediction ids in
// responses, ground truth by feedback, drift and statistics per model, their Prometheus
// families on /metrics, and prediction logs shipped to Workers Logs (console) or a Queue.
import { HttpError } from './http.js';

/** A prediction's id, as the package's `predictionId` reads it; undefined when not monitored. */
export function predictionId(outputs) {
  return outputs[Symbol.for('edgeinfer.predictionId')];
}

/** `{ "id": "...", "label": v }` or `{ "id": "...", "labels": [v, null, ...] }`. */
export function parseFeedback(body) {
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw new HttpError(400, 'the request body must be a JSON object');
  if (typeof body.id !== 'string') throw new HttpError(400, "'id' must be the prediction id a response gave (parameters.prediction_id)");
  const hasLabel = 'label' in body, hasLabels = 'labels' in body;
  if (hasLabel === hasLabels) throw new HttpError(400, "give either 'label' (one row) or 'labels' (one per row, null to skip a row)");
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
  return [...families.values()].map((f) => [...f.head, ...f.samples].join('\n')).join('\n') + (families.size ? '\n' : '');
}

/** Every loaded model's families, labelled with its name and version. */
export function modelExposition(models) {
  return mergeFamilies(models.entries.filter((e) => e.model?.prometheus).map((e) => {
    try {
      return e.model.prometheus({ model: e.name, version: e.version });
    } catch {
      return ''; // A model loaded with monitoring: false has no families.
    }
  }));
}

/** Applies the deployment's log settings to a model, once per settings. */
export function configureLogs(entry, settings) {
  if (entry.logSettings === settings.log || !entry.model?.configureLogs) return;
  entry.model.configureLogs(settings.log.mode === 'off' ? false : settings.log.options);
  entry.logSettings = settings.log;
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
  const sends = [];
  for (let i = 0; i < lines.length; i += 100) {
    sends.push(queue.sendBatch(lines.slice(i, i + 100).map((line) => ({ body: JSON.parse(line), contentType: 'json' }))));
  }
  const done = Promise.all(sends).catch((e) => console.error(`prediction logs: the queue refused a batch: ${e?.message ?? e}`));
  if (ctx.waitUntil) ctx.waitUntil(done);
}
