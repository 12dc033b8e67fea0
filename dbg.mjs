import { parseConfig } from '/work/main/dist/src/config/load.js';
import { startServer } from '/work/main/dist/src/cli/server.js';
import { readFileSync } from 'node:fs';
import pino from '/work/main/node_modules/pino/pino.js';
const cfg = parseConfig(readFileSync('/tmp/pbx1/sb.yaml','utf8').replace(/5260/g,'5360').replace('8289','8389'), 'sb.yaml');
const s = await startServer(cfg, { log: pino({ level: 'info' }) });
setInterval(() => { const st = s.pbx.status(); if (st.conferences.length) console.log(JSON.stringify(st.conferences)); }, 2000);
setTimeout(() => process.exit(0), Number(process.env.T ?? 25000));
