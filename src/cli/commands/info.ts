import type { Command } from 'commander';

import type { SystemInfo } from '../../api/types/index.js';
import { CliError, type CliContext } from '../context.js';
import { renderTemplate } from '../output/template.js';

/** go-units BytesSize: binary units with up to 4 significant digits, e.g. "23.43GiB". */
export function bytesSize(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let value = bytes;
  let i = 0;
  while (value >= 1024 && i < units.length - 1) {
    value /= 1024;
    i++;
  }
  return `${Number(value.toPrecision(4))}${units[i]}`;
}

/** The Server section of `docker info`, line for line as the docker CLI prints it. */
export function renderServerInfo(info: SystemInfo): string {
  const out: string[] = [];
  const line = (...parts: unknown[]): void => {
    out.push(parts.map(String).join(' '));
  };
  const nonEmpty = (label: string, value: unknown): void => {
    if (value !== undefined && value !== null && value !== '') line(label, value);
  };
  line(' Containers:', info.Containers ?? 0);
  line('  Running:', info.ContainersRunning ?? 0);
  line('  Paused:', info.ContainersPaused ?? 0);
  line('  Stopped:', info.ContainersStopped ?? 0);
  line(' Images:', info.Images ?? 0);
  nonEmpty(' Server Version:', info.ServerVersion);
  nonEmpty(' Storage Driver:', info.Driver);
  for (const pair of info.DriverStatus ?? []) out.push(`  ${pair[0]}: ${pair[1]}`);
  nonEmpty(' Logging Driver:', info.LoggingDriver);
  nonEmpty(' Cgroup Driver:', info.CgroupDriver);
  nonEmpty(' Cgroup Version:', info.CgroupVersion);
  line(' Plugins:');
  line('  Volume:', (info.Plugins?.Volume ?? []).join(' '));
  line('  Network:', (info.Plugins?.Network ?? []).join(' '));
  if ((info.Plugins?.Authorization ?? []).length > 0)
    line('  Authorization:', (info.Plugins?.Authorization ?? []).join(' '));
  line('  Log:', (info.Plugins?.Log ?? []).join(' '));
  line(' Swarm:', info.Swarm?.LocalNodeState ?? 'inactive');
  const runtimes = Object.keys(info.Runtimes ?? {});
  if (runtimes.length > 0) {
    line(' Runtimes:', runtimes.join(' '));
    line(' Default Runtime:', info.DefaultRuntime ?? '');
  }
  line(' Init Binary:', info.InitBinary ?? '');
  line(' runc version:', info.RuncCommit?.ID ?? '');
  if ((info.SecurityOptions ?? []).length > 0) {
    line(' Security Options:');
    for (const opt of info.SecurityOptions ?? [])
      out.push(`  ${opt.replace(/^name=/, '').split(',')[0] ?? opt}`);
  }
  nonEmpty(' Kernel Version:', info.KernelVersion);
  nonEmpty(' Operating System:', info.OperatingSystem);
  nonEmpty(' OSType:', info.OSType);
  nonEmpty(' Architecture:', info.Architecture);
  line(' CPUs:', info.NCPU ?? 0);
  line(' Total Memory:', bytesSize(info.MemTotal ?? 0));
  nonEmpty(' Name:', info.Name);
  nonEmpty(' ID:', info.ID);
  line(' Docker Root Dir:', info.DockerRootDir ?? '');
  line(' Debug Mode:', info.Debug ?? false);
  if (info.Debug) {
    line('  File Descriptors:', info.NFd ?? 0);
    line('  System Time:', info.SystemTime ?? '');
    line('  EventsListeners:', info.NEventsListener ?? 0);
  }
  nonEmpty(' HTTP Proxy:', info.HttpProxy);
  nonEmpty(' HTTPS Proxy:', info.HttpsProxy);
  nonEmpty(' No Proxy:', info.NoProxy);
  if ((info.Labels ?? []).length > 0) {
    line(' Labels:');
    for (const label of info.Labels ?? []) out.push(`  ${label}`);
  }
  line(' Experimental:', info.ExperimentalBuild ?? false);
  const registry = info.RegistryConfig;
  if (registry) {
    const insecure = Object.values(registry.IndexConfigs ?? {})
      .filter((c) => c?.Secure === false)
      .map((c) => c?.Name ?? '');
    const cidrs = registry.InsecureRegistryCIDRs ?? [];
    if (insecure.length + cidrs.length > 0) {
      line(' Insecure Registries:');
      for (const name of [...insecure, ...cidrs]) out.push(`  ${name}`);
    }
    if ((registry.Mirrors ?? []).length > 0) {
      line(' Registry Mirrors:');
      for (const mirror of registry.Mirrors ?? []) out.push(`  ${mirror}`);
    }
  }
  line(' Live Restore Enabled:', info.LiveRestoreEnabled ?? false);
  return out.join('\n') + '\n';
}

export function registerInfo(program: Command, ctx: CliContext): Command {
  return program
    .command('info')
    .description('Display system-wide information')
    .option('-f, --format <template>', 'format output using a Go template, or "json"')
    .action(async (opts: { format?: string }) => {
      const info = await ctx.client().info();
      if (opts.format !== undefined) {
        const format = opts.format === 'json' ? '{{json .}}' : opts.format;
        try {
          ctx.out.write(renderTemplate(format, info) + '\n');
        } catch (err) {
          throw new CliError(`template: ${(err as Error).message}`, 64);
        }
        return;
      }
      ctx.out.write(`Client: berth\n Context:    default\n Debug Mode: false\n\nServer:\n`);
      ctx.out.write(renderServerInfo(info));
      const warnings = info.Warnings ?? [];
      if (warnings.length > 0) ctx.err.write(warnings.join('\n') + '\n');
    });
}
