// The shared suite in Node, against the package under test.
import { test } from 'node:test';
import { suite } from '../suite/suite.mjs';
import { fixtures, importPackage } from './harness.mjs';

const api = await importPackage();
for (const t of suite(api, fixtures())) test(t.name, t.fn);
