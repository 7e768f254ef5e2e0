// `node --import` this before bin/senpai-md: the loading of dist/cli/main.js is held for 10 s after
// "loading dist/cli/main.js" is written to stderr, so a test can signal the CLI while its modules
// load (what a busy host does for most of a second) without guessing a delay.
import { register } from 'node:module';

register(new URL('./slow-cli-load-hooks.mjs', import.meta.url));
