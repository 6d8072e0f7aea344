import type { VolumeUsage, VolumeView } from '../../engine/volumes/service.js';
import { InvalidParameterError } from '../../errors.js';

const pad2 = (n: number): string => String(n).padStart(2, '0');

/**
 * Go's `time.Format(time.RFC3339)` in the daemon's local time zone, as moby
 * prints a volume's CreatedAt: `2024-01-02T15:04:05Z`, or `…+01:00`.
 */
export function rfc3339Local(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  const date = `${String(d.getFullYear()).padStart(4, '0')}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())}`;
  const time = `${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
  const minutes = -d.getTimezoneOffset();
  if (minutes === 0) return `${date}T${time}Z`;
  const abs = Math.abs(minutes);
  return `${date}T${time}${minutes < 0 ? '-' : '+'}${pad2(Math.floor(abs / 60))}:${pad2(abs % 60)}`;
}

/**
 * A Volume as moby's JSON has it, in its field order. `UsageData` only
 * where Docker gives it (`/system/df`); `Status` is omitted, as the local
 * driver reports none.
 */
export function toVolume(view: VolumeView, usage?: VolumeUsage): Record<string, unknown> {
  return {
    CreatedAt: rfc3339Local(view.createdAt),
    Driver: view.driver,
    Labels: view.labels,
    Mountpoint: view.mountpoint,
    Name: view.name,
    Options: view.options,
    Scope: 'local',
    ...(usage ? { UsageData: { RefCount: usage.refCount, Size: usage.size } } : {}),
  };
}

/** `GET /volumes` (VolumeListResponse). */
export function toVolumeList(views: readonly VolumeView[]): Record<string, unknown> {
  return { Volumes: views.map((v) => toVolume(v)), Warnings: null };
}

/** `POST /volumes/prune` (VolumePruneReport). */
export function toVolumePruneReport(deleted: readonly string[], reclaimed: number): Record<string, unknown> {
  return { VolumesDeleted: [...deleted], SpaceReclaimed: reclaimed };
}

/** The parts of a `POST /volumes/create` body berth reads. */
export interface VolumeCreateBody {
  Name?: string;
  Driver?: string;
  DriverOpts?: Record<string, string> | null;
  Labels?: Record<string, string> | null;
}

function stringField(body: Record<string, unknown>, key: string): string | undefined {
  const value = body[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') {
    throw new InvalidParameterError(
      `invalid JSON: json: cannot unmarshal ${jsonKind(value)} into Go struct field CreateOptions.${key} of type string`,
    );
  }
  return value;
}

function mapField(body: Record<string, unknown>, key: string): Record<string, string> | null | undefined {
  const value = body[key];
  if (value === undefined) return undefined;
  if (value === null) return null;
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new InvalidParameterError(
      `invalid JSON: json: cannot unmarshal ${jsonKind(value)} into Go struct field CreateOptions.${key} of type map[string]string`,
    );
  }
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    if (typeof v !== 'string') {
      throw new InvalidParameterError(
        `invalid JSON: json: cannot unmarshal ${jsonKind(v)} into Go struct field CreateOptions.${key} of type string`,
      );
    }
    out[k] = v;
  }
  return out;
}

function jsonKind(value: unknown): string {
  if (Array.isArray(value)) return 'array';
  if (value === null) return 'null';
  if (typeof value === 'boolean') return 'bool';
  return typeof value === 'object' ? 'object' : typeof value;
}

/** Reads a create body (already parsed JSON; absent or null means all defaults). */
export function parseVolumeCreateBody(raw: unknown): VolumeCreateBody {
  if (raw === undefined || raw === null) return {};
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    throw new InvalidParameterError(
      `invalid JSON: json: cannot unmarshal ${jsonKind(raw)} into Go value of type volume.CreateOptions`,
    );
  }
  const body = raw as Record<string, unknown>;
  const out: VolumeCreateBody = {};
  const name = stringField(body, 'Name');
  if (name !== undefined) out.Name = name;
  const driver = stringField(body, 'Driver');
  if (driver !== undefined) out.Driver = driver;
  const driverOpts = mapField(body, 'DriverOpts');
  if (driverOpts !== undefined) out.DriverOpts = driverOpts;
  const labels = mapField(body, 'Labels');
  if (labels !== undefined) out.Labels = labels;
  return out;
}
