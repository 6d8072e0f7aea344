import type { ImageView } from '../../engine/images/service.js';
import type { ContainerConfigFields } from '../../engine/images/manifest.js';
import { atLeast } from '../version.js';

const ZERO_TIME = '0001-01-01T00:00:00Z';

/** `GET /images/json` items (ImageSummary). */
export function toImageSummary(
  view: ImageView,
  apiVersion: string,
  withDigests = true,
  usage?: { containers: number; sharedSize: number },
): Record<string, unknown> {
  const { record, config } = view;
  return {
    Containers: usage?.containers ?? -1,
    Created: Math.floor(Date.parse(record.created) / 1000) || 0,
    Id: record.id,
    Labels: config.config?.Labels ?? null,
    ParentId: record.parent ?? '',
    RepoDigests: withDigests ? view.repoDigests : [],
    RepoTags: view.repoTags,
    SharedSize: usage?.sharedSize ?? -1,
    Size: record.size,
    ...(atLeast(apiVersion, '1.44') ? {} : { VirtualSize: record.size }),
  };
}

/** The container-config part of an image, with the fields Docker always prints. */
export function toImageConfig(c: ContainerConfigFields | undefined): Record<string, unknown> {
  const cfg = c ?? {};
  return {
    Hostname: '',
    Domainname: '',
    User: cfg.User ?? '',
    AttachStdin: false,
    AttachStdout: false,
    AttachStderr: false,
    ...(cfg.ExposedPorts ? { ExposedPorts: cfg.ExposedPorts } : {}),
    Tty: false,
    OpenStdin: false,
    StdinOnce: false,
    Env: cfg.Env ?? null,
    Cmd: cfg.Cmd ?? null,
    ...(cfg.Healthcheck ? { Healthcheck: cfg.Healthcheck } : {}),
    ...(cfg.ArgsEscaped ? { ArgsEscaped: true } : {}),
    Image: '',
    Volumes: cfg.Volumes ?? null,
    WorkingDir: cfg.WorkingDir ?? '',
    Entrypoint: cfg.Entrypoint ?? null,
    OnBuild: cfg.OnBuild ?? null,
    Labels: cfg.Labels ?? null,
    ...(cfg.StopSignal ? { StopSignal: cfg.StopSignal } : {}),
    ...(cfg.Shell ? { Shell: cfg.Shell } : {}),
  };
}

/** `GET /images/{name}/json` (ImageInspect). `lowerDirs` are the image's layer dirs, topmost first. */
export function toImageInspect(
  view: ImageView,
  lowerDirs: string[],
  apiVersion: string,
): Record<string, unknown> {
  const { record, config } = view;
  const [upper, ...lower] = lowerDirs;
  return {
    Id: record.id,
    RepoTags: view.repoTags,
    RepoDigests: view.repoDigests,
    Parent: record.parent ?? '',
    Comment: config.comment ?? '',
    Created: config.created ?? record.created,
    ...(atLeast(apiVersion, '1.45') ? {} : { Container: '' }),
    ...(atLeast(apiVersion, '1.45') ? {} : { ContainerConfig: toImageConfig(config.container_config) }),
    DockerVersion: config.docker_version ?? '',
    Author: config.author ?? '',
    Config: toImageConfig(config.config),
    Architecture: config.architecture ?? '',
    ...(config.variant ? { Variant: config.variant } : {}),
    Os: config.os ?? '',
    ...(config['os.version'] ? { OsVersion: config['os.version'] } : {}),
    Size: record.size,
    ...(atLeast(apiVersion, '1.44') ? {} : { VirtualSize: record.size }),
    GraphDriver: {
      Name: 'overlay2',
      Data: {
        ...(lower.length > 0 ? { LowerDir: lower.join(':') } : {}),
        ...(upper ? { UpperDir: upper } : {}),
      },
    },
    RootFS: { Type: 'layers', Layers: record.layers.map((l) => l.diffId) },
    Metadata: { LastTagTime: record.lastTagTime ?? ZERO_TIME },
  };
}

/**
 * `GET /images/{name}/history`: newest first; entries that add a layer take
 * its size; the top entry carries the image ID and tags, the rest `<missing>`.
 */
export function toImageHistory(view: ImageView, layerSizes: number[]): Record<string, unknown>[] {
  const history = view.config.history ?? [];
  const out: Record<string, unknown>[] = [];
  let layerIndex = 0;
  for (const h of history) {
    const size = h.empty_layer ? 0 : (layerSizes[layerIndex++] ?? 0);
    out.push({
      Id: '<missing>',
      Created: Math.floor(Date.parse(h.created ?? '') / 1000) || 0,
      CreatedBy: h.created_by ?? '',
      Tags: null,
      Size: size,
      Comment: h.comment ?? '',
    });
  }
  if (out.length === 0) {
    out.push({
      Id: '<missing>',
      Created: Math.floor(Date.parse(view.record.created) / 1000) || 0,
      CreatedBy: '',
      Tags: null,
      Size: view.record.size,
      Comment: '',
    });
  }
  out.reverse();
  const top = out[0];
  top['Id'] = view.record.id;
  top['Tags'] = view.repoTags.length > 0 ? view.repoTags : null;
  return out;
}
