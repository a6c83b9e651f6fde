/** The tests start VictoriaMetrics the way the benchmark does (bench/victoria-metrics.ts). */
export { VICTORIA_METRICS, type VictoriaMetrics, type VictoriaOptions, requireVictoriaMetrics, startVictoriaMetrics } from '../../bench/victoria-metrics.js';
