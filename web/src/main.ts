/**
 * Composition root of the web UI (ARCHITECTURE.md §6.7): builds the one live
 * connection, the session and the stores, wires them, and mounts the app.
 * Components receive these objects; none of them opens a socket.
 *
 * The live feed runs only while someone is signed in: with `--auth tokens`
 * the server refuses the WebSocket without a session, so it starts on
 * sign-in and stops on sign-out or when a request answers 401.
 */
import { mount } from 'svelte';
import App from './App.svelte';
import './app.css';
import { AlertStore } from './lib/alerts.svelte.js';
import { setUnauthorizedHandler } from './lib/api.js';
import { LiveConnection, liveUrl } from './lib/connection.svelte.js';
import { FleetStore } from './lib/fleet.svelte.js';
import { Kiosk } from './lib/kiosk.svelte.js';
import { Session } from './lib/session.svelte.js';
import { Theme } from './lib/theme.svelte.js';

const theme = new Theme();
theme.start();
const kiosk = new Kiosk();
kiosk.start();

// Assigned below: the connection and the session refer to each other through these hooks.
let session: Session;
const connection = new LiveConnection(liveUrl(window.location), { onRefused: () => session.verify() });
session = new Session({
  onSignedIn: () => connection.start(),
  onSignedOut: () => connection.stop(),
});
setUnauthorizedHandler(() => session.expired());

const fleet = new FleetStore();
// Alerts are subscribed for the whole session, not per page: the banner shows them on every page.
const alerts = new AlertStore();

// Subscribing before start() is fine: the subscribe messages go out on open,
// and again after every reconnect (the server then sends the whole alert list anew).
connection.subscribe('fleet', (msg) => fleet.handle(msg));
connection.subscribe('alerts', (msg) => alerts.handle(msg));
connection.subscribe('*', (msg) => {
  if (msg.type === 'error') fleet.handle(msg);
});
void session.check();

const target = document.getElementById('app');
if (!target) throw new Error('index.html has no #app element');

export default mount(App, { target, props: { connection, fleet, alerts, session, theme, kiosk } });
