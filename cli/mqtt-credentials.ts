/**
 * Credentials and TLS trust for a connection to an MQTT broker that is not
 * the embedded one (Mosquitto, a site broker): a username, a password read
 * from a file (never a flag: flags show in `ps`), and a CA file for mqtts://
 * brokers with a private CA. Read once at start; a file that cannot be read
 * stops the start with its name.
 */
import { readFileSync } from 'node:fs';
import type { IClientOptions } from 'mqtt';
import { OperatorError } from '../server/operator-error.js';

export interface MqttCredentialSettings {
  username: string;
  passwordFile: string;
  caFile: string;
}

export function mqttConnectOptions(s: MqttCredentialSettings): Pick<IClientOptions, 'username' | 'password' | 'ca'> {
  const read = (file: string, what: string) => {
    try {
      return readFileSync(file);
    } catch (err) {
      throw new OperatorError(`${what}: cannot read ${file}: ${(err as Error).message}`);
    }
  };
  return {
    ...(s.username && { username: s.username }),
    ...(s.passwordFile && { password: read(s.passwordFile, 'mqtt.password_file').toString('utf8').trim() }),
    ...(s.caFile && { ca: read(s.caFile, 'mqtt.ca_file') }),
  };
}
