// @ts-check
// Writes examples/ivr/menu.gram from the menu in menu.mjs: `node examples/ivr/make-grammar.mjs`.
import { writeFileSync } from 'node:fs';
import { menuGrammar } from './menu.mjs';

writeFileSync(new URL('./menu.gram', import.meta.url), menuGrammar());
console.log('wrote examples/ivr/menu.gram');
