import type { Container, ContainerService } from '../containers/service.js';
import { StatsService, type StatsServiceOptions, type StatsTarget } from './sampler.js';

/** What the sampler needs to know of a container: its public record and state. */
export function statsTarget(c: Container, cgroupParent: string): StatsTarget {
  return {
    id: c.id,
    name: c.record.Name,
    running: c.running && c.state.Pid > 0,
    pid: c.running ? c.state.Pid : 0,
    cgroupPath: `${cgroupParent.replace(/\/+$/, '')}/${c.id}`,
    hostNetwork: c.record.HostConfig.NetworkMode === 'host',
  };
}

/**
 * A StatsService over the container service's public API: `all()`, `find()`
 * and `startListeners` (a baseline sample at each start). Call `start()` on
 * it once the containers are loaded, `close()` when the engine stops.
 */
export function statsForContainers(
  containers: ContainerService,
  cgroupParent: string,
  options: Partial<StatsServiceOptions> = {},
): StatsService {
  const stats = new StatsService({
    listRunning: () =>
      containers
        .all()
        .filter((c) => c.running && c.state.Pid > 0)
        .map((c) => statsTarget(c, cgroupParent)),
    lookup: (id) => {
      const c = containers.find(id);
      return c && c.id === id ? statsTarget(c, cgroupParent) : undefined;
    },
    ...options,
  });
  containers.startListeners.push((c) => stats.noteStarted(c.id));
  return stats;
}
