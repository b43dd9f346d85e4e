// The shared suite in Node, against the package under test.
import { test } from 'node:test';
import { suite } from '../suite/suite.mjs';
import { decodeFixtures } from '../suite/corpus.mjs';
import { importPackage, suiteFixtures } from './harness.mjs';

const api = await importPackage();
for (const t of suite(api, decodeFixtures(suiteFixtures()))) test(t.name, t.fn);
