// SPDX-License-Identifier: ISC
// A throw-away PostgreSQL for bench/run.sh (tests/pg/pg.mjs): prints
// "url URL" once it accepts connections, and stops (removing it all)
// when its stdin closes or it gets SIGTERM.
import { startPostgres } from '../tests/pg/pg.mjs';

const pg = await startPostgres();
process.stdout.write(`url ${pg.url}\n`);
let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  await pg.stop();
  process.exit(0);
};
process.stdin.on('end', stop);
process.stdin.resume();
process.on('SIGTERM', stop);
