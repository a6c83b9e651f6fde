/**
 * Kiosk mode for wall displays: the Overview alone, full screen, without the
 * navigation, in larger type. Turned on by `?kiosk=1` in the address (so a
 * display's start-up URL can ask for it; index.html sets the class before the
 * first paint) or by the Overview's button, and off by its Exit button or
 * Escape. The `kiosk` class on <html> does the styling (app.css).
 */
import { kioskRequested, withoutKiosk } from './display.js';

export class Kiosk {
  on = $state(false);

  start(): void {
    this.on = kioskRequested(window.location.search);
    this.#apply();
  }

  /** From a click: a user gesture, which the Fullscreen API requires. */
  enter(): void {
    this.on = true;
    this.#apply();
    if (window.location.hash !== '' && window.location.hash !== '#/') window.location.hash = '#/';
    // Refused without a gesture or in a frame; kiosk mode works in a window too.
    document.documentElement.requestFullscreen?.().catch(() => {});
  }

  exit(): void {
    this.on = false;
    this.#apply();
    if (kioskRequested(window.location.search)) window.history.replaceState(null, '', withoutKiosk(window.location.href));
    if (document.fullscreenElement) document.exitFullscreen().catch(() => {});
  }

  #apply(): void {
    document.documentElement.classList.toggle('kiosk', this.on);
  }
}
