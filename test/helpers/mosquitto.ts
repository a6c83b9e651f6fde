/** The integration tests start Mosquitto the way the benchmarks do. */
export { MOSQUITTO, type Mosquitto, freePort, requireMosquitto, startMosquitto } from '../../bench/mosquitto.js';
