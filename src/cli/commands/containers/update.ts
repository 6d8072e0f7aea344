import { Option, type Command } from 'commander';

import type { ContainerUpdateRequest } from '../../../api/types/index.js';
import { updateContainer } from '../../../client/containers.js';
import { CliError, type CliContext } from '../../context.js';
import { valueFlag } from '../../opts/flags.js';
import { parseRestartPolicy } from '../../opts/misc.js';
import { memSwapBytes, parseCpus, parseInt64, parseUint16, ramInBytes } from '../../opts/units.js';
import { errorText, runContainerCommand } from './common.js';

export interface UpdateFlags {
  blkioWeight?: number;
  cpuPeriod?: number;
  cpuQuota?: number;
  cpuRtPeriod?: number;
  cpuRtRuntime?: number;
  cpusetCpus?: string;
  cpusetMems?: string;
  cpuShares?: number;
  memory?: number;
  memoryReservation?: number;
  memorySwap?: number;
  restart?: string;
  pidsLimit?: number;
  cpus?: number;
  kernelMemory?: number;
}

/**
 * docker update's request: the resources given (zero values mean "leave
 * as is" to the daemon), the restart policy when `--restart` is given.
 * @throws Error `you must provide one or more flags when using this command`.
 */
export function updateRequest(flags: UpdateFlags): ContainerUpdateRequest {
  if (!Object.values(flags).some((v) => v !== undefined)) {
    throw new Error('you must provide one or more flags when using this command');
  }
  const req: ContainerUpdateRequest = {};
  if (flags.blkioWeight) req.BlkioWeight = flags.blkioWeight;
  if (flags.cpusetCpus) req.CpusetCpus = flags.cpusetCpus;
  if (flags.cpusetMems) req.CpusetMems = flags.cpusetMems;
  if (flags.cpuShares) req.CpuShares = flags.cpuShares;
  if (flags.memory) req.Memory = flags.memory;
  if (flags.memoryReservation) req.MemoryReservation = flags.memoryReservation;
  if (flags.memorySwap) req.MemorySwap = flags.memorySwap;
  if (flags.cpuPeriod) req.CpuPeriod = flags.cpuPeriod;
  if (flags.cpuQuota) req.CpuQuota = flags.cpuQuota;
  if (flags.cpuRtPeriod) req.CpuRealtimePeriod = flags.cpuRtPeriod;
  if (flags.cpuRtRuntime) req.CpuRealtimeRuntime = flags.cpuRtRuntime;
  if (flags.cpus) req.NanoCpus = flags.cpus;
  if (flags.pidsLimit) req.PidsLimit = flags.pidsLimit;
  if (flags.restart) req.RestartPolicy = parseRestartPolicy(flags.restart);
  return req;
}

/** `update [OPTIONS] CONTAINER [CONTAINER...]`. */
export function registerUpdate(parent: Command, ctx: CliContext): Command {
  const int = (flags: string): ((v: string) => number) => valueFlag(flags, parseInt64);
  return parent
    .command('update')
    .description('Update configuration of one or more containers')
    .argument('<container...>', 'CONTAINER [CONTAINER...]')
    .option(
      '--blkio-weight <weight>',
      'block IO (relative weight), between 10 and 1000, or 0 to disable (default 0)',
      valueFlag('--blkio-weight', parseUint16),
    )
    .option('--cpu-period <n>', 'limit CPU CFS (Completely Fair Scheduler) period', int('--cpu-period'))
    .option('--cpu-quota <n>', 'limit CPU CFS (Completely Fair Scheduler) quota', int('--cpu-quota'))
    .option('--cpu-rt-period <n>', 'limit the CPU real-time period in microseconds', int('--cpu-rt-period'))
    .option(
      '--cpu-rt-runtime <n>',
      'limit the CPU real-time runtime in microseconds',
      int('--cpu-rt-runtime'),
    )
    .option('-c, --cpu-shares <n>', 'CPU shares (relative weight)', int('-c, --cpu-shares'))
    .option('--cpus <decimal>', 'number of CPUs', valueFlag('--cpus', parseCpus))
    .option('--cpuset-cpus <cpus>', 'CPUs in which to allow execution (0-3, 0,1)')
    .option('--cpuset-mems <mems>', 'MEMs in which to allow execution (0-3, 0,1)')
    .option('-m, --memory <bytes>', 'memory limit', valueFlag('-m, --memory', ramInBytes))
    .option(
      '--memory-reservation <bytes>',
      'memory soft limit',
      valueFlag('--memory-reservation', ramInBytes),
    )
    .option(
      '--memory-swap <bytes>',
      'swap limit equal to memory plus swap: -1 to enable unlimited swap',
      valueFlag('--memory-swap', memSwapBytes),
    )
    .option('--pids-limit <n>', 'tune container pids limit (set -1 for unlimited)', int('--pids-limit'))
    .option('--restart <policy>', 'restart policy to apply when a container exits')
    .addOption(
      new Option('--kernel-memory <bytes>').hideHelp().argParser(valueFlag('--kernel-memory', ramInBytes)),
    )
    .action((names: string[], flags: UpdateFlags) =>
      runContainerCommand(async () => {
        const req = updateRequest(flags);
        const warnings: string[] = [];
        const errors: string[] = [];
        for (const name of names) {
          try {
            const res = await updateContainer(ctx.client(), name, req);
            ctx.out.write(`${name}\n`);
            warnings.push(...(res.Warnings ?? []));
          } catch (err) {
            errors.push(errorText(err));
          }
        }
        if (warnings.length > 0) ctx.out.write(warnings.join('\n') + '\n');
        if (errors.length > 0) throw new CliError(errors.join('\n'));
      }),
    );
}
