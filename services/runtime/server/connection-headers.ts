// The headers the server adapters (grpc-server.ts, connect-server.ts) add to a call's request headers
// so that handlers and interceptors know who is on the other end of the connection.

/** PEER_HEADER is the header under which the adapters pass the peer address to handlers. */
export const PEER_HEADER = "x-medschedule-peer";

/** CONNECTION_HEADER is the header under which the adapters name the client's connection (its address and port) to handlers. */
export const CONNECTION_HEADER = "x-medschedule-connection";

/**
 * CLIENT_CONNECTION_HEADER is the header under which the gateway passes its client's connection
 * (CONNECTION_HEADER there) on to the services; only AUTH_MODE=off's anonymous caller is counted by it.
 */
export const CLIENT_CONNECTION_HEADER = "x-medschedule-client-connection";
