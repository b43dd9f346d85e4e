// OpenSSF model signing, both ways against the `model-signing` package itself (PyPI, in its
// own venv: scripts/setup.sh python), with private keys and no network: edgeinfer's
// signatures verify with `model_signing verify key`, and its signatures with `edgeinfer
// verify`. A changed file, another key and a tampered signature are refused by both.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { corpusDir, packageDir, root, runCli } from './harness.mjs';

const MODEL_SIGNING = join(root, '.cache/model-signing/bin/model_signing');

/** `edgeinfer ARGS` in `cwd`: its exit code and what it printed. */
function cli(cwd, ...args) {
  const r = spawnSync(process.execPath, [join(packageDir, 'js/cli.js'), ...args], { cwd, encoding: 'utf8' });
  return { code: r.status, out: r.stdout + r.stderr };
}

function python(cwd, ...args) {
  const r = spawnSync(MODEL_SIGNING, args, { cwd, encoding: 'utf8' });
  return { code: r.status, out: r.stdout + r.stderr };
}

function workspace() {
  const dir = mkdtempSync(join(tmpdir(), 'edgeinfer-signing-'));
  copyFileSync(join(corpusDir(), 'sk_logreg_breast_cancer.onnx'), join(dir, 'model.onnx'));
  return dir;
}

/** The signed statement inside a signature file. */
const statementOf = (file) =>
  JSON.parse(Buffer.from(JSON.parse(readFileSync(file, 'utf8')).dsseEnvelope.payload, 'base64').toString());

test('edgeinfer sign writes a signature model_signing verifies, and refuses what it should', () => {
  const dir = workspace();
  assert.match(runCli(dir, 'keygen', '-o', 'team', '--algorithm', 'p256').toString(), /wrote team.key/);
  assert.match(runCli(dir, 'sign', 'model.onnx', '--key', 'team.key').toString(), /wrote model.sig/);
  const verified = python(dir, 'verify', 'key', 'model.onnx', '--signature', 'model.sig', '--public_key', 'team.pub');
  assert.equal(verified.code, 0, verified.out);
  assert.match(verified.out, /Verification succeeded/);
  assert.equal(cli(dir, 'verify', 'model.onnx', '--signature', 'model.sig', '--public-key', 'team.pub').code, 0);

  // Another key: model_signing and edgeinfer both refuse.
  runCli(dir, 'keygen', '-o', 'other', '--algorithm', 'p256');
  assert.notEqual(
    python(dir, 'verify', 'key', 'model.onnx', '--signature', 'model.sig', '--public_key', 'other.pub').code,
    0,
  );
  const other = cli(dir, 'verify', 'model.onnx', '--signature', 'model.sig', '--public-key', 'other.pub');
  assert.equal(other.code, 1);
  assert.match(other.out, /E_INTEGRITY: the signature names another key/);

  // A changed model.
  writeFileSync(join(dir, 'changed.onnx'), Buffer.concat([readFileSync(join(dir, 'model.onnx')), Buffer.from([0])]));
  assert.notEqual(
    python(dir, 'verify', 'key', 'changed.onnx', '--signature', 'model.sig', '--public_key', 'team.pub').code,
    0,
  );
  const changed = cli(dir, 'verify', 'changed.onnx', '--signature', 'model.sig', '--public-key', 'team.pub');
  assert.equal(changed.code, 1);
  assert.match(
    changed.out,
    /E_INTEGRITY: the model's SHA-256 is [0-9a-f]{16}…, the signature's [0-9a-f]{16}…: the file was changed/,
  );

  // A signature whose statement was edited after signing (pointing it at the changed file).
  const sig = JSON.parse(readFileSync(join(dir, 'model.sig'), 'utf8'));
  const statement = statementOf(join(dir, 'model.sig'));
  statement.subject[0].name = 'changed.onnx';
  sig.dsseEnvelope.payload = Buffer.from(JSON.stringify(statement)).toString('base64');
  writeFileSync(join(dir, 'edited.sig'), JSON.stringify(sig));
  const edited = cli(dir, 'verify', 'model.onnx', '--signature', 'edited.sig', '--public-key', 'team.pub');
  assert.equal(edited.code, 1);
  assert.match(edited.out, /E_INTEGRITY: the signature was not made by team.pub/);
  writeFileSync(join(dir, 'broken.sig'), '{"mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json"');
  assert.match(
    cli(dir, 'verify', 'model.onnx', '--signature', 'broken.sig', '--public-key', 'team.pub').out,
    /E_INTEGRITY: the signature is not JSON/,
  );

  // model-signing takes EC keys: an Ed25519 key is refused by name, as is a missing key.
  runCli(dir, 'keygen', '-o', 'bundles');
  const ed = cli(dir, 'sign', 'model.onnx', '--key', 'bundles.key');
  assert.equal(ed.code, 1);
  assert.match(
    ed.out,
    /bundles.key is not an EC key \(ed25519\); model-signing signatures take P-256, P-384 or P-521 keys/,
  );
  assert.equal(cli(dir, 'sign', 'model.onnx').code, 2);
  assert.equal(cli(dir, 'verify', 'model.onnx', '--signature', 'model.sig').code, 2);
});

test("model_signing's signatures verify with edgeinfer, and bundles record their subject", () => {
  const dir = workspace();
  // A key as openssl writes it (SEC1 "EC PRIVATE KEY"), on P-384.
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'secp384r1' });
  writeFileSync(join(dir, 'ops.key'), privateKey.export({ type: 'sec1', format: 'pem' }));
  writeFileSync(join(dir, 'ops.pub'), publicKey.export({ type: 'spki', format: 'pem' }));
  const signed = python(dir, 'sign', 'key', 'model.onnx', '--private_key', 'ops.key', '--signature', 'py.sig');
  assert.equal(signed.code, 0, signed.out);
  const verified = cli(dir, 'verify', 'model.onnx', '--signature', 'py.sig', '--public-key', 'ops.pub');
  assert.equal(verified.code, 0, verified.out);
  const subject = statementOf(join(dir, 'py.sig')).subject[0].digest.sha256;
  assert.match(verified.out, new RegExp(`sha256 ${subject}`));

  execFileSync(
    process.execPath,
    [
      join(packageDir, 'js/cli.js'),
      'build',
      'model.onnx',
      '--name',
      'lr',
      '--version',
      '1',
      '--no-snapshot',
      '-o',
      'out',
    ],
    { cwd: dir },
  );
  const printed = cli(dir, 'verify', 'out/lr.wasm').out;
  const manifest = JSON.parse(printed.slice(printed.indexOf('{')));
  assert.equal(manifest.model.model_signing_sha256, subject, "the bundle names model_signing's subject for its source");
});
