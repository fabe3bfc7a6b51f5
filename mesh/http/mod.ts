/**
 * The data-plane HTTP/1.1 engine: a strict codec over raw connections, a
 * server with keep-alive and pipelining, upstream connection pools, request
 * forwarding with proxy headers, and a pass-through proxy.
 *
 * @module
 */

export {
  type ByteConn,
  type ByteListener,
  connectNodeTls,
  type ConnectOptions,
  connectTcp,
  ConnectTimeoutError,
  DenoByteConn,
  DenoByteListener,
  listenNodeTls,
  type ListenOptions,
  listenTcp,
  NodeByteConn,
  type NodeSocketLike,
  NodeTlsListener,
  type NodeTlsListenOptions,
  type PeerCertificate,
  reusePortAvailable,
  writeAll,
} from "./conn.ts";
export { ByteWriter, latin1 } from "./buffer.ts";
export { BufferedReader } from "./reader.ts";
export { DEFAULT_LIMITS, H, HeaderFields, type HeadLimits } from "./fields.ts";
export {
  Framing,
  parseRequest,
  parseRequestHead,
  RequestHead,
  RequestParser,
  TargetForm,
} from "./request_parser.ts";
export {
  parseResponse,
  parseResponseHead,
  ResponseHead,
  ResponseParser,
} from "./response_parser.ts";
export { BodyReader, CHUNKED_END, EMPTY_BODY, encodeChunk, PrematureEndError } from "./body.ts";
export {
  type ForwardHeadOptions,
  newRequestId,
  reasonPhrase,
  type RelayHeadOptions,
  serializeRequestHead,
  writeForwardRequestHead,
  writeRelayResponseHead,
  writeResponseHead,
} from "./headers.ts";
export {
  bodyForFlag,
  DownstreamError,
  isConnectionError,
  ProtocolError,
  ResponseFlag,
  type ResponseFlagName,
  statusForFlag,
  UpstreamError,
} from "./errors.ts";
export {
  type Handler,
  HttpServer,
  IncomingRequest,
  ResponseSink,
  serve,
  type ServerOptions,
  type TakenConnection,
} from "./server.ts";
export { ConnectionPool, type PoolOptions, UpstreamConn } from "./pool.ts";
export {
  classifyUpstreamError,
  exchange,
  type ExchangeOptions,
  UpstreamResponse,
} from "./client.ts";
export {
  forward,
  type ForwardOptions,
  type ForwardResult,
  pump,
  RELAY_DONE,
  RELAY_WRITE_FAILED,
  relayBody,
  type RelayOutcome,
  type RelayReadFailure,
  sendLocalReply,
} from "./forward.ts";
export {
  type Passthrough,
  passthroughHandler,
  type PassthroughOptions,
  runPassthroughLoop,
  startPassthrough,
} from "./passthrough.ts";
export { tunnel, type TunnelOptions } from "./tunnel.ts";
