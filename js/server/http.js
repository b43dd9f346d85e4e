// HTTP plumbing shared by the routes: errors with a status, JSON responses, bounded bodies.

/** An error that becomes `{ "error": message }` with `status`. */
export class HttpError extends Error {
  constructor(status, message, headers = {}) {
    super(message);
    this.status = status;
    this.headers = headers;
  }
}

export function json(body, status = 200, headers = {}) {
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'content-type': 'application/json', ...headers },
  });
}

export function errorResponse(err) {
  return json({ error: err.message }, err.status, err.headers);
}

/** How the core's error codes map to HTTP: the request was well-formed, the model refused it. */
export const STATUS_BY_CODE = {
  E_INPUT_MISSING: 422,
  E_INPUT_UNKNOWN: 422,
  E_INPUT_DTYPE: 422,
  E_INPUT_SHAPE: 422,
  E_INPUT_VALUE: 422,
  // The model failed on this input (an item id out of range, say): the request's doing.
  E_RUNTIME: 422,
  E_INVALID_OPTION: 400,
  E_RESOURCE_LIMIT: 413,
  E_PREDICTION_UNKNOWN: 404,
  E_FEEDBACK_INVALID: 422,
};

/** An error from the model (an EdgeInferError) as an HttpError; 500 only for our own failures. */
export function fromModelError(e) {
  if (e instanceof HttpError) return e;
  const status = STATUS_BY_CODE[e?.code];
  if (status) return new HttpError(status, `${e.code}: ${e.message}`);
  // A bug (E_INTERNAL) or a code this table lacks: never a stack trace.
  return new HttpError(500, `${e?.code ?? 'E_INTERNAL'}: prediction failed`);
}

/** The request's body as bytes, refusing more than `limit` before reading it all. */
export async function readBody(request, limit) {
  const declared = Number(request.headers.get('content-length'));
  if (Number.isFinite(declared) && declared > limit) {
    throw new HttpError(413, `request body of ${declared} bytes is over the limit of ${limit} bytes`);
  }
  if (!request.body) return new Uint8Array(0);
  const reader = request.body.getReader();
  const chunks = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel();
      throw new HttpError(413, `request body is over the limit of ${limit} bytes`);
    }
    chunks.push(value);
  }
  const out = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

/**
 * Parses a JSON body. The content type must be JSON (415 otherwise); a missing one is taken
 * as JSON, as some v2 clients send none.
 */
export function parseJson(request, bytes) {
  const type = (request.headers.get('content-type') ?? '').split(';')[0].trim().toLowerCase();
  if (type && type !== 'application/json') {
    throw new HttpError(415, `content-type must be application/json, got '${type}'`);
  }
  return parseJsonBytes(bytes);
}

/**
 * How deep a request's JSON may nest: a v2 body is three levels around its tensors' data,
 * and no tensor here has 29 axes. Deeper bodies are refused before they are parsed: a
 * 10,000-deep array overflowed the stack of `flat`, and a 1 MB body 500,000 deep took 28 MiB
 * of heap to parse.
 */
export const MAX_JSON_DEPTH = 32;

export function parseJsonBytes(bytes) {
  const depth = jsonDepth(bytes);
  if (depth > MAX_JSON_DEPTH) throw new HttpError(400, `the JSON nests more than ${MAX_JSON_DEPTH} levels deep`);
  try {
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch (e) {
    throw new HttpError(400, `malformed JSON: ${e.message}`);
  }
}

/** The deepest nesting of arrays and objects in JSON text, stopping once past the limit. */
function jsonDepth(bytes) {
  let depth = 0,
    deepest = 0,
    inString = false;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i];
    if (inString) {
      if (b === 0x5c)
        i++; // a backslash escapes the next byte
      else if (b === 0x22) inString = false;
    } else if (b === 0x22) {
      inString = true;
    } else if (b === 0x5b || b === 0x7b) {
      if (++depth > deepest && (deepest = depth) > MAX_JSON_DEPTH) return deepest;
    } else if (b === 0x5d || b === 0x7d) {
      depth--;
    }
  }
  return deepest;
}

/** A value from a request, for a message: JSON, shortened (objects with odd keys included). */
export function shown(value) {
  const text = JSON.stringify(value) ?? String(typeof value);
  return text.length > 40 ? `${text.slice(0, 40)}…` : text;
}
