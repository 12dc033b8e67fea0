/** SIP Digest authentication (RFC 2617, RFC 7616, RFC 8760): one import for callers. */
export { parseAuthHeader, formatAuthHeader, type AuthHeader } from './parse.js';
export {
  ha1, digestResponse, credentialHa1, algorithmFromParam, formatNc,
  type Credential, type DigestAlgorithm, type DigestAlgorithmName, type DigestInput,
} from './digest.js';
export { NonceManager, type NonceManagerOptions, type NonceState } from './nonce.js';
export { DigestServer, type DigestServerOptions, type VerifyResult } from './server.js';
export { buildAuthorization, selectChallenge } from './client.js';
