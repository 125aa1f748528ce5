/**
 * The standard redirect scenario of the integration tests and the image check: a list with a
 * plain redirect, a remote port, DNS on the same port over UDP and TCP, and a fallback; the
 * servers that answer it; the connections that exercise every rule; and what each must answer.
 */
import { ADDRESSES } from './topology.js';

const [D1, D2, D3] = ADDRESSES.destinations;
const POD = ADDRESSES.pod;

export const SCENARIO = {
  destinations: [
    '# redirects of the standard test scenario',
    `80   tcp ${D1}`,
    `8080\ttcp ${D2} 80   # remote port`,
    `53   udp ${D2}`,
    `53   tcp ${D2}`,
    `${D3}                # fallback`,
  ].join('\n'),
  servers: [`tcp:${D1}:80`, `tcp:${D2}:80`, `udp:${D2}:53`, `tcp:${D2}:53`, `tcp:${D3}:9999`, `udp:${D3}:9999`],
  targets: [`tcp:${POD}:80`, `tcp:${POD}:8080`, `udp:${POD}:53`, `tcp:${POD}:53`, `tcp:${POD}:9999`, `udp:${POD}:9999`],
  /** The reply to each target: the source the destination saw, and the destination reached. */
  replies: [`${D1}:80`, `${D2}:80`, `${D2}:53`, `${D2}:53`, `${D3}:9999`, `${D3}:9999`].map((d) => `${ADDRESSES.source} ${d}`),
} as const;
