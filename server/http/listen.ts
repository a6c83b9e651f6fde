/** Binding a port, with a message an operator can act on instead of a stack trace. */
import type { Server } from 'node:net';
import { OperatorError } from '../operator-error.js';

export class ListenError extends OperatorError {}

export function listenOrExplain(server: Server, host: string, port: number, what: string, howToChange: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      server.off('listening', onListening);
      if (err.code === 'EADDRINUSE') {
        reject(new ListenError(`port ${port} (${what}) is already in use on ${host}; stop the other program or choose another port with ${howToChange}`));
      } else if (err.code === 'EACCES') {
        reject(new ListenError(`no permission to bind port ${port} (${what}) on ${host}; choose a port above 1023 with ${howToChange}`));
      } else if (err.code === 'EADDRNOTAVAIL') {
        reject(new ListenError(`address ${host} is not on this machine (${what}); set another with --host or KILOWATCH_HOST`));
      } else {
        reject(new ListenError(`cannot listen on ${host}:${port} (${what}): ${err.message}`));
      }
    };
    const onListening = () => {
      server.off('error', onError);
      resolve();
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen(port, host);
  });
}
