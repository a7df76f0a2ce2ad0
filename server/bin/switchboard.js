#!/usr/bin/env node
// The `switchboard` command: runs the compiled entry point (npm run build first).
import "../dist/src/main.js";
