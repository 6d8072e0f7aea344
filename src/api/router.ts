import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';

export type HttpMethod = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'DELETE';

/**
 * What a handler gets: the request, its response, the negotiated API version,
 * path parameters and the parsed query. `signal` aborts when the client goes
 * away or the daemon shuts down; streaming handlers must stop on it.
 */
export interface RequestContext {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly method: HttpMethod;
  readonly path: string;
  readonly apiVersion: string;
  readonly params: Readonly<Record<string, string>>;
  readonly query: URLSearchParams;
  readonly signal: AbortSignal;
  /**
   * Takes over the connection for a raw bidirectional stream (attach, exec).
   * With `Upgrade: tcp` it answers `101 UPGRADED`; without, `200` with
   * Docker's raw-stream media type (output only: the request body is the input).
   */
  hijack(): Duplex;
}

export type Handler = (ctx: RequestContext) => Promise<void> | void;

/** A route as data. `{name}` matches one path segment, `{name*}` the rest of the path. */
export interface Route {
  readonly method: HttpMethod;
  readonly path: string;
  readonly handler: Handler;
  /** The lowest API version this route exists in. */
  readonly minApiVersion?: string;
}

interface CompiledRoute {
  readonly route: Route;
  readonly pattern: RegExp;
  readonly names: readonly string[];
}

export interface RouteMatch {
  readonly route: Route;
  readonly params: Record<string, string>;
}

/** A route table: exact method and path matching, first match wins. */
export class RouteTable {
  private readonly compiled: CompiledRoute[];

  constructor(routes: readonly Route[]) {
    this.compiled = routes.map(compileRoute);
  }

  /**
   * The route for a method and bare path. HEAD falls back to GET as in Go's
   * mux only where a HEAD route is declared; unknown method or path → undefined.
   */
  match(method: string, path: string): RouteMatch | undefined {
    for (const c of this.compiled) {
      if (c.route.method !== method) continue;
      const m = c.pattern.exec(path);
      if (!m) continue;
      const params: Record<string, string> = {};
      c.names.forEach((name, i) => {
        params[name] = decodeURIComponent(m[i + 1] ?? '');
      });
      return { route: c.route, params };
    }
    return undefined;
  }
}

function compileRoute(route: Route): CompiledRoute {
  const names: string[] = [];
  const source = route.path
    .split('/')
    .map((segment) => {
      const param = /^\{([A-Za-z]+)(\*?)\}$/.exec(segment);
      if (!param) return segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      names.push(param[1] ?? '');
      return param[2] === '*' ? '(.+)' : '([^/]+)';
    })
    .join('/');
  return { route, pattern: new RegExp(`^${source}$`), names };
}
