/**
 * Composition root of the web UI (ARCHITECTURE.md §6.7): builds the one live
 * connection and the stores, wires them, starts the connection and mounts
 * the app. Components receive these objects; none of them opens a socket.
 */
import { mount } from 'svelte';
import App from './App.svelte';
import './app.css';
import { AlertStore } from './lib/alerts.svelte.js';
import { LiveConnection, liveUrl } from './lib/connection.svelte.js';
import { FleetStore } from './lib/fleet.svelte.js';

const connection = new LiveConnection(liveUrl(window.location));
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
connection.start();

const target = document.getElementById('app');
if (!target) throw new Error('index.html has no #app element');

export default mount(App, { target, props: { connection, fleet, alerts } });
