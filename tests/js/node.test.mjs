// The shared suite in Node, against the package under test.
import { test } from 'node:test';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { suite } from '../suite/suite.mjs';
import { decodeFixtures } from '../suite/corpus.mjs';
import { importPackage, packageDir, suiteFixtures } from './harness.mjs';

const api = await importPackage();
const internal = await import(pathToFileURL(join(packageDir, 'js/core.js')).href);
for (const t of suite(api, decodeFixtures(suiteFixtures()), internal)) test(t.name, t.fn);
