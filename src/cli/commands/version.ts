import os from 'node:os';

import type { Command } from 'commander';

import type { SystemVersion } from '../../api/types/index.js';
import { API_VERSION } from '../../api/version.js';
import { buildStamp } from '../../build-info.js';
import { goArch } from '../../util/platform.js';
import { CliError, type CliContext } from '../context.js';
import { renderTemplate } from '../output/template.js';
import { tabwrite } from '../output/tabwriter.js';
import { ansicDate } from '../output/time.js';

/** `berth version`'s data: the Client and Server sections of `docker version`. */
export interface VersionReport {
  Client: {
    Platform: { Name: string };
    Version: string;
    APIVersion: string;
    DefaultAPIVersion: string;
    GoVersion: string;
    GitCommit: string;
    BuildTime: string;
    Os: string;
    Arch: string;
    Context: string;
  };
  Server: SystemVersion | null;
}

export async function collectVersion(ctx: CliContext): Promise<{ report: VersionReport; error?: unknown }> {
  const build = buildStamp();
  const report: VersionReport = {
    Client: {
      Platform: { Name: 'berth' },
      Version: build.version,
      APIVersion: API_VERSION,
      DefaultAPIVersion: API_VERSION,
      GoVersion: `node ${process.version}`,
      GitCommit: build.gitCommit,
      BuildTime: ansicDate(build.buildTime),
      Os: os.platform(),
      Arch: goArch(process.arch),
      Context: 'default',
    },
    Server: null,
  };
  try {
    const client = ctx.client();
    report.Client.APIVersion = await client.apiVersion();
    report.Server = await client.version();
  } catch (error) {
    return { report, error };
  }
  return { report };
}

/** The docker version layout: sections, then `key:<tab>value` lines aligned by tabwriter(20, 1, 1). */
export function renderVersion(report: VersionReport): string {
  const c = report.Client;
  const lines: string[] = [
    `Client: ${c.Platform.Name}`,
    ` Version:\t${c.Version}`,
    ` API version:\t${c.APIVersion}${c.APIVersion !== c.DefaultAPIVersion ? ` (downgraded from ${c.DefaultAPIVersion})` : ''}`,
    ` Go version:\t${c.GoVersion}`,
    ` Git commit:\t${c.GitCommit}`,
    ` Built:\t${c.BuildTime}`,
    ` OS/Arch:\t${c.Os}/${c.Arch}`,
    ` Context:\t${c.Context}`,
  ];
  const s = report.Server;
  if (s) {
    lines.push('', `Server:${s.Platform?.Name ? ` ${s.Platform.Name}` : ''}`);
    for (const component of s.Components ?? []) {
      const d: Record<string, unknown> = component.Details ?? {};
      const detail = (key: string): string => {
        const value = d[key];
        return typeof value === 'string'
          ? value
          : value === undefined || value === null
            ? ''
            : JSON.stringify(value);
      };
      lines.push(` ${component.Name}:`);
      if (component.Name === 'Engine') {
        lines.push(
          `  Version:\t${component.Version}`,
          `  API version:\t${detail('ApiVersion')} (minimum version ${detail('MinAPIVersion')})`,
          `  Go version:\t${detail('GoVersion')}`,
          `  Git commit:\t${detail('GitCommit')}`,
          `  Built:\t${ansicDate(detail('BuildTime'))}`,
          `  OS/Arch:\t${detail('Os')}/${detail('Arch')}`,
          `  Experimental:\t${detail('Experimental')}`,
        );
      } else {
        lines.push(`  Version:\t${component.Version}`);
        for (const key of Object.keys(d).sort()) lines.push(`  ${key}:\t${detail(key)}`);
      }
    }
  }
  return tabwrite(lines.join('\n') + '\n', { minwidth: 20, tabwidth: 1, padding: 1 });
}

export function registerVersion(program: Command, ctx: CliContext): void {
  program
    .command('version')
    .description('Show the berth version information')
    .option('-f, --format <template>', 'format output using a Go template, or "json"')
    .action(async (opts: { format?: string }) => {
      const { report, error } = await collectVersion(ctx);
      if (opts.format !== undefined) {
        const format = opts.format === 'json' ? '{{json .}}' : opts.format;
        let text: string;
        try {
          text = renderTemplate(format, report);
        } catch (err) {
          throw new CliError(`template parsing error: ${(err as Error).message}`, 64);
        }
        ctx.out.write(text + '\n');
      } else {
        ctx.out.write(renderVersion(report));
      }
      if (error !== undefined)
        throw error instanceof Error ? error : new Error('version: unexpected failure', { cause: error });
    });
}
