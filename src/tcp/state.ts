// Connection states (RFC 9293 3.3.2).

export const TcpState = {
  CLOSED: 0,
  LISTEN: 1,
  SYN_SENT: 2,
  SYN_RECEIVED: 3,
  ESTABLISHED: 4,
  FIN_WAIT_1: 5,
  FIN_WAIT_2: 6,
  CLOSE_WAIT: 7,
  CLOSING: 8,
  LAST_ACK: 9,
  TIME_WAIT: 10,
} as const;

export type TcpStateValue = (typeof TcpState)[keyof typeof TcpState];

const NAMES = ['CLOSED', 'LISTEN', 'SYN-SENT', 'SYN-RECEIVED', 'ESTABLISHED', 'FIN-WAIT-1', 'FIN-WAIT-2', 'CLOSE-WAIT', 'CLOSING', 'LAST-ACK', 'TIME-WAIT'];

/** The state's name as RFC 9293 writes it. */
export function tcpStateName(state: number): string {
  return NAMES[state] ?? `state ${state}`;
}

/** States after the handshake in which our side may still send data. */
export function canSendData(state: number): boolean {
  return state === TcpState.ESTABLISHED || state === TcpState.CLOSE_WAIT;
}

/** States in which the peer may still send data. */
export function canReceiveData(state: number): boolean {
  return state === TcpState.ESTABLISHED || state === TcpState.FIN_WAIT_1 || state === TcpState.FIN_WAIT_2;
}

/** States in which the connection is synchronized (RFC 9293: after the handshake). */
export function isSynchronized(state: number): boolean {
  return state >= TcpState.ESTABLISHED;
}
