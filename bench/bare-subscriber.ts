/**
 * The ceiling of the ingest benchmark: a bare mqtt.js subscriber on the same
 * stream at the same QoS, which only counts. Prints its count on stdin "?\n".
 */
import mqtt from 'mqtt';
import { createInterface } from 'node:readline';

const [url, filter] = process.argv.slice(2) as [string, string];
let received = 0;
const client = await mqtt.connectAsync(url, { clientId: `bench-bare-${process.pid}`, clean: true });
client.on('message', () => received++);
await client.subscribeAsync(filter, { qos: 1 });
console.log('ready');
createInterface({ input: process.stdin }).on('line', () => console.log(String(received)));
