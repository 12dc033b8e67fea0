/**
 * The route set of a dialog and where an in-dialog request goes
 * (RFC 3261 §12.1.1, §12.1.2, §12.2.1.1). Computed once when the route set
 * or the remote target changes, so building a request copies strings only.
 */
import { parseNameAddr } from '../headers.js';
import { formatUri, parseUri } from '../uri.js';

/** One Record-Route element kept as received (it is sent back verbatim as a Route value). */
export interface RouteEntry {
  /** The element as it appeared in Record-Route, e.g. `<sip:p1.example.com;lr>`. */
  value: string;
  /** The URI inside it. */
  uri: string;
  /** True when the URI carries `lr`: the hop is a loose router (RFC 3261 §16.12.1). */
  loose: boolean;
}

/** Record-Route values in message order → a route set; the UAC reverses them (§12.1.2), the UAS does not (§12.1.1). */
export function routeSetFrom(recordRoute: string[], reverse: boolean): RouteEntry[] {
  const out: RouteEntry[] = recordRoute.map((value) => {
    const uri = parseNameAddr(value).uri;
    return { value, uri, loose: parseUri(uri).params.has('lr') };
  });
  return reverse ? out.reverse() : out;
}

/** Where a request built from the dialog state goes: its Request-URI and its Route values in order. */
export interface Destination {
  requestUri: string;
  routes: string[];
}

/**
 * §12.2.1.1. Empty route set or a loose first hop: Request-URI is the remote
 * target and Route is the route set. A strict first hop (no `lr`, an RFC 2543
 * proxy) expects to find itself in the Request-URI: it goes there, and the
 * remote target becomes the last Route so the path still ends at the peer.
 */
export function destination(routeSet: RouteEntry[], remoteTarget: string): Destination {
  if (routeSet.length === 0 || routeSet[0].loose) {
    return { requestUri: requestUriOf(remoteTarget), routes: routeSet.map((r) => r.value) };
  }
  const routes = routeSet.slice(1).map((r) => r.value);
  routes.push(`<${remoteTarget}>`);
  return { requestUri: requestUriOf(routeSet[0].uri), routes };
}

/**
 * A URI as it may stand in a Request-URI: §19.1.1 Table 1 forbids the
 * `method` parameter and header components there. Most URIs have neither and
 * are returned untouched, keeping the peer's spelling.
 */
export function requestUriOf(uri: string): string {
  if (!uri.includes('?') && !/;\s*method\s*=/i.test(uri)) return uri;
  const parsed = parseUri(uri);
  parsed.params.delete('method');
  parsed.headers.clear();
  return formatUri(parsed);
}
