import type { NetworkRecord } from '../../engine/networks/model.js';
import type { NetworkService } from '../../engine/networks/service.js';
import { InvalidParameterError } from '../../errors.js';
import { FilterArgs } from '../../util/filters.js';
import { queryBool, readJsonBody, sendJson, sendNoContent } from '../respond.js';
import type { Route } from '../router.js';

/** A network as Docker's NetworkResource / network inspect. */
export function toNetworkResource(
  service: NetworkService,
  net: NetworkRecord,
  withContainers: boolean,
): Record<string, unknown> {
  const containers: Record<string, unknown> = {};
  if (withContainers) {
    for (const { container, endpoint } of service.endpointsOf(net)) {
      if (!endpoint.IPAddress && net.Driver === 'bridge') continue;
      containers[container.id] = {
        Name: container.name,
        EndpointID: endpoint.EndpointID,
        MacAddress: endpoint.MacAddress,
        IPv4Address: endpoint.IPAddress ? `${endpoint.IPAddress}/${endpoint.IPPrefixLen}` : '',
        IPv6Address: '',
      };
    }
  }
  return {
    Name: net.Name,
    Id: net.Id,
    Created: net.Created,
    Scope: 'local',
    Driver: net.Driver,
    EnableIPv4: net.Driver === 'bridge',
    EnableIPv6: net.EnableIPv6,
    IPAM: net.IPAM,
    Internal: net.Internal,
    Attachable: net.Attachable,
    Ingress: false,
    ConfigFrom: { Network: '' },
    ConfigOnly: false,
    Containers: containers,
    Options: net.Options,
    Labels: net.Labels,
  };
}

export function networkRoutes(service: NetworkService): Route[] {
  return [
    {
      method: 'GET',
      path: '/networks',
      handler: (ctx) => {
        const nets = service.list(FilterArgs.fromJSON(ctx.query.get('filters')));
        sendJson(
          ctx.res,
          200,
          nets.map((n) => toNetworkResource(service, n, false)),
        );
      },
    },
    {
      method: 'POST',
      path: '/networks/create',
      handler: async (ctx) => {
        const body = (await readJsonBody(ctx)) as Parameters<NetworkService['create']>[0] | null;
        if (body === null || typeof body !== 'object')
          throw new InvalidParameterError('invalid network configuration');
        sendJson(ctx.res, 201, await service.create(body));
      },
    },
    {
      method: 'POST',
      path: '/networks/prune',
      handler: async (ctx) => {
        const removed = await service.prune(FilterArgs.fromJSON(ctx.query.get('filters')));
        sendJson(ctx.res, 200, { NetworksDeleted: removed.length > 0 ? removed : null });
      },
    },
    {
      method: 'GET',
      path: '/networks/{id}',
      handler: (ctx) => {
        const net = service.get(ctx.params['id'] ?? '');
        void queryBool(ctx.query, 'verbose');
        sendJson(ctx.res, 200, toNetworkResource(service, net, true));
      },
    },
    {
      method: 'DELETE',
      path: '/networks/{id}',
      handler: async (ctx) => {
        await service.remove(ctx.params['id'] ?? '');
        sendNoContent(ctx.res);
      },
    },
    {
      method: 'POST',
      path: '/networks/{id}/connect',
      handler: async (ctx) => {
        const body = (await readJsonBody(ctx)) as {
          Container?: string;
          EndpointConfig?: { Aliases?: string[]; IPAMConfig?: { IPv4Address?: string } };
        };
        if (!body?.Container) throw new InvalidParameterError('container is required');
        await service.connect(ctx.params['id'] ?? '', body.Container, body.EndpointConfig ?? {});
        ctx.res.writeHead(200, { 'Content-Length': 0 });
        ctx.res.end();
      },
    },
    {
      method: 'POST',
      path: '/networks/{id}/disconnect',
      handler: async (ctx) => {
        const body = (await readJsonBody(ctx)) as { Container?: string; Force?: boolean };
        if (!body?.Container) throw new InvalidParameterError('container is required');
        await service.disconnect(ctx.params['id'] ?? '', body.Container, body.Force ?? false);
        ctx.res.writeHead(200, { 'Content-Length': 0 });
        ctx.res.end();
      },
    },
  ];
}
