// Prints vitest's result counts as one plain closing line ("tests: N passed, N failed, N skipped") for CI logs.
import { readFileSync } from 'node:fs';

const results = JSON.parse(readFileSync(process.argv[2] ?? '.vitest/results.json', 'utf8'));
const skipped = results.numPendingTests + results.numTodoTests;
console.log(`tests: ${results.numPassedTests} passed, ${results.numFailedTests} failed, ${skipped} skipped`);
process.exit(results.success ? 0 : 1);
