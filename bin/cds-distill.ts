#!/usr/bin/env node
console.log('cds-distill: commands arrive soon (train, distill, eval, export, compare, inspect, bench, demo)');
