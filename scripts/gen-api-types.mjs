#!/usr/bin/env node
// Generates src/api/types/generated.ts (TypeScript wire types) from the Docker Engine API
// contract (Swagger 2.0). The output is committed; the build never runs this script.
//
//   node scripts/gen-api-types.mjs [path/to/docker-engine-api.yaml] [--check]
//
// The input defaults to $BERTH_API_YAML, else ../shared/reference/docker-engine-api-v1.47.yaml
// next to the repository. --check writes nothing and exits 1 when the committed file is stale.
//
// Mapping rules:
// - every `definitions` entry becomes an exported interface (objects with properties, allOf of
//   objects) or type alias (enums -> literal unions, arrays, maps, primitives);
// - a definition whose `title` differs from its key also gets `export type <title> = <key>`;
// - inline body/response schemas in `paths` named by `title` are emitted under that title, and
//   untitled inline object/allOf request bodies as `<operationId>Request`;
// - `x-nullable: true` -> `| null`, on a property or on the referenced definition;
// - properties are optional unless listed in `required`;
// - integer/number (any format) -> number, binary/file -> unknown, free-form objects ->
//   Record<string, unknown>, `additionalProperties: T` -> Record<string, T>.
import { readFile, writeFile, mkdir } from 'node:fs/promises';
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as prettier from 'prettier';
import { parse } from 'yaml';

const args = process.argv.slice(2);
const check = args.includes('--check');
const inputArg = args.find((a) => !a.startsWith('--')) ?? process.env.BERTH_API_YAML;
const inputPath =
  inputArg ?? fileURLToPath(new URL('../../shared/reference/docker-engine-api-v1.47.yaml', import.meta.url));
const outPath = fileURLToPath(new URL('../src/api/types/generated.ts', import.meta.url));

const spec = parse(await readFile(inputPath, 'utf8'));
if (spec?.swagger !== '2.0' || typeof spec.definitions !== 'object') {
  throw new Error(`${inputPath}: not a Swagger 2.0 document with definitions`);
}
const defs = spec.definitions;

// ---------------------------------------------------------------------------------------------
// Naming

const IDENT = /^[A-Za-z_$][A-Za-z0-9_$]*$/;
// Names the output itself relies on, or that TypeScript reserves for built-in types.
const RESERVED = new Set([
  'Record',
  'Array',
  'string',
  'number',
  'boolean',
  'unknown',
  'never',
  'null',
  'object',
]);
const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch'];

/** Makes an identifier usable as an exported type name. */
function typeName(raw) {
  const name = IDENT.test(raw)
    ? raw
    : raw
        .split(/[^A-Za-z0-9_$]+/)
        .filter(Boolean)
        .map((w) => w[0].toUpperCase() + w.slice(1))
        .join('');
  if (!IDENT.test(name) || RESERVED.has(name))
    throw new Error(`cannot use ${JSON.stringify(raw)} as a type name`);
  return name;
}

const propKey = (k) => (IDENT.test(k) ? k : JSON.stringify(k));

/** All exported names, to detect collisions. */
const taken = new Set();
/** Named inline schemas (hoisted from `paths` or nested `title`s): schema object -> name. */
const hoisted = new Map();
/** Emission queue for non-definition named types, in discovery order. */
const extraTypes = [];

for (const key of Object.keys(defs)) {
  const name = typeName(key);
  if (name !== key) throw new Error(`definition ${JSON.stringify(key)} is not a valid identifier`);
  taken.add(name);
}

/** Definition `title`s that differ from the key become aliases (EventMessage -> SystemEventsResponse). */
const aliases = new Map();
for (const [key, s] of Object.entries(defs)) {
  if (typeof s.title !== 'string' || s.title === key) continue;
  const alias = typeName(s.title);
  if (taken.has(alias)) continue;
  taken.add(alias);
  aliases.set(key, alias);
}

/** Registers every titled inline object schema under its title, depth-first in document order. */
function collectTitles(s, origin) {
  if (!s || typeof s !== 'object' || s.$ref) return;
  if (typeof s.title === 'string' && !hoisted.has(s) && isObjectLike(s)) {
    const name = typeName(s.title);
    if (!taken.has(name)) {
      taken.add(name);
      hoisted.set(s, name);
      extraTypes.push({ name, schema: s, origin });
    }
  }
  collectChildren(s, origin);
}

function collectChildren(s, origin) {
  for (const p of Object.values(s.properties ?? {})) collectTitles(p, origin);
  if (s.items) collectTitles(s.items, origin);
  if (s.additionalProperties && typeof s.additionalProperties === 'object') {
    collectTitles(s.additionalProperties, origin);
  }
  for (const part of s.allOf ?? []) collectTitles(part, origin);
}

function isObjectLike(s) {
  return s.type === 'object' || s.properties !== undefined || s.allOf !== undefined;
}

// Nested titles inside definitions (the contract has none today, but keep them if added).
for (const s of Object.values(defs)) collectChildren(s, null);

for (const [path, item] of Object.entries(spec.paths ?? {})) {
  for (const method of HTTP_METHODS) {
    const op = item[method];
    if (!op) continue;
    const where = `${method.toUpperCase()} ${path}`;
    for (const param of [...(item.parameters ?? []), ...(op.parameters ?? [])]) {
      if (param.in !== 'body' || !param.schema || param.schema.$ref) continue;
      const s = param.schema;
      if (typeof s.title === 'string') {
        collectTitles(s, { where, what: 'request body', operationId: op.operationId });
      } else if (op.operationId && (s.properties || s.allOf)) {
        // Untitled request bodies that are objects get an operation-derived name.
        const name = typeName(`${op.operationId}Request`);
        if (!taken.has(name)) {
          taken.add(name);
          hoisted.set(s, name);
          extraTypes.push({
            name,
            schema: s,
            origin: { where, what: 'request body', operationId: op.operationId, derived: true },
          });
        }
        collectChildren(s, { where, what: 'request body', operationId: op.operationId });
      }
    }
    for (const [code, res] of Object.entries(op.responses ?? {})) {
      if (!res?.schema || res.schema.$ref) continue;
      collectTitles(res.schema, { where, what: `${code} response`, operationId: op.operationId });
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Schema -> TypeScript

// Precedence of a type expression, to know when to parenthesise.
const UNION = 0;
const INTERSECTION = 1;
const ATOM = 2;

const t = (text, prec = ATOM) => ({ text, prec });
const paren = (ty, min) => (ty.prec < min ? `(${ty.text})` : ty.text);

function refName(ref) {
  const m = /^#\/definitions\/(.+)$/.exec(ref);
  if (!m || !defs[m[1]]) throw new Error(`unresolvable $ref ${ref}`);
  return m[1];
}

function union(types) {
  const seen = new Set();
  const parts = [];
  for (const ty of types.flatMap((ty) => ty.members ?? [ty])) {
    if (seen.has(ty.text)) continue;
    seen.add(ty.text);
    parts.push(ty);
  }
  if (parts.some((p) => p.text === 'unknown')) return t('unknown');
  if (parts.length === 1) return parts[0];
  return { ...t(parts.map((p) => paren(p, INTERSECTION)).join(' | '), UNION), members: parts };
}

const withNull = (ty, nullable) => (nullable ? union([ty, t('null')]) : ty);

function literal(v) {
  if (v === null) return t('null');
  if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return t(JSON.stringify(v));
  if (typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length === 0) {
    return t('Record<string, never>');
  }
  throw new Error(`unsupported enum value ${JSON.stringify(v)}`);
}

/** The TypeScript type of a schema used in place (property, item, map value, ...). */
function typeOf(s) {
  if (s === undefined || s === null || s === true) return t('unknown');
  if (s.$ref) {
    const name = refName(s.$ref);
    return withNull(t(name), s['x-nullable'] === true || defs[name]['x-nullable'] === true);
  }
  if (hoisted.has(s)) return withNull(t(hoisted.get(s)), s['x-nullable'] === true);
  return withNull(shapeOf(s), s['x-nullable'] === true);
}

/** The type of a schema ignoring its own x-nullable. */
function shapeOf(s) {
  if (s.allOf) {
    const parts = s.allOf
      .map(typeOf)
      .filter((p) => p.text !== 'Record<string, unknown>' || s.allOf.length === 1);
    const own = s.properties ? [objectLiteral(s)] : [];
    const all = [...parts, ...own];
    if (all.length === 0) return t('Record<string, unknown>');
    if (all.length === 1) return all[0];
    return t(all.map((p) => paren(p, INTERSECTION)).join(' & '), INTERSECTION);
  }
  if (Array.isArray(s.enum)) return union(s.enum.map(literal));
  switch (s.type) {
    case 'string':
      return t(s.format === 'binary' ? 'unknown' : 'string');
    case 'integer':
    case 'number':
      return t('number');
    case 'boolean':
      return t('boolean');
    case 'file':
      return t('unknown');
    case 'array':
      return t(`${paren(typeOf(s.items), ATOM)}[]`);
    case 'null':
      return t('null');
    case 'object':
    case undefined:
      return objectShape(s);
    default:
      throw new Error(`unsupported schema type ${JSON.stringify(s.type)}`);
  }
}

function hasProps(s) {
  return s.properties !== undefined && Object.keys(s.properties).length > 0;
}

function mapType(s) {
  const ap = s.additionalProperties;
  if (ap === false) return null;
  if (ap === undefined || ap === true) return t('Record<string, unknown>');
  return t(`Record<string, ${typeOf(ap).text}>`);
}

function objectShape(s) {
  if (s.type === undefined && !s.properties && s.additionalProperties === undefined) return t('unknown');
  if (!hasProps(s)) return mapType(s) ?? t('Record<string, never>');
  const obj = objectLiteral(s);
  if (s.additionalProperties !== undefined && s.additionalProperties !== false) {
    return t(`${obj.text} & ${mapType(s).text}`, INTERSECTION);
  }
  return obj;
}

function objectLiteral(s) {
  return t(`{\n${members(s)}}`);
}

function members(s) {
  const required = new Set(s.required ?? []);
  let out = '';
  for (const [key, prop] of Object.entries(s.properties ?? {})) {
    out += doc(prop.description, prop);
    out += `${propKey(key)}${required.has(key) ? '' : '?'}: ${typeOf(prop).text};\n`;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Doc comments

function doc(description, s = {}, extra = []) {
  const lines = [];
  if (typeof description === 'string') {
    const text = description
      .replace(/\r\n?/g, '\n')
      .split('\n')
      .filter((l) => !/^\s*<p><br\s*\/?><\/p>\s*$/.test(l))
      .map((l) => l.replace(/\s+$/, ''))
      .join('\n')
      .replace(/\n{3,}/g, '\n\n')
      .trim();
    if (text) lines.push(...text.split('\n'));
  }
  if (s.default !== undefined) {
    if (lines.length) lines.push('');
    lines.push(`@default ${JSON.stringify(s.default)}`);
  }
  if (extra.length) {
    if (lines.length) lines.push('');
    lines.push(...extra);
  }
  if (lines.length === 0) return '';
  if (lines.length === 1 && lines[0].length <= 90) return `/** ${lines[0].replace(/\*\//g, '*\\/')} */\n`;
  const body = lines.map((l) => ` *${l ? ' ' + l.replace(/\*\//g, '*\\/') : ''}`).join('\n');
  return `/**\n${body}\n */\n`;
}

// ---------------------------------------------------------------------------------------------
// Declarations

/** A schema emitted as `interface` needs to be an object with properties (or allOf of those). */
function interfaceable(s) {
  if (s.$ref) {
    const target = defs[refName(s.$ref)];
    return !target.allOf && hasProps(target) && target.additionalProperties === undefined && !target.enum;
  }
  if (s.enum || s.additionalProperties !== undefined) return false;
  if (s.allOf) return false; // nested allOf parts are not expected; keep it simple
  return s.type === 'object' || s.type === undefined;
}

/** Property names an interface for definition `name` declares or inherits. */
function inheritedKeys(name) {
  const s = defs[name];
  return [
    ...Object.keys(s.properties ?? {}),
    ...(s.allOf ?? []).flatMap((p) =>
      p.$ref ? inheritedKeys(refName(p.$ref)) : Object.keys(p.properties ?? {}),
    ),
  ];
}

function declare(name, s, extraDoc = []) {
  const head = doc(s.description, s, [
    ...extraDoc,
    ...(s['x-nullable'] === true ? ['References to this type may be `null` (x-nullable).'] : []),
  ]);
  if (s.allOf && !s.properties && s.allOf.every(interfaceable)) {
    const bases = s.allOf.filter((p) => p.$ref).map((p) => refName(p.$ref));
    const inline = s.allOf.filter((p) => !p.$ref);
    const keys = inline.flatMap((p) => Object.keys(p.properties ?? {}));
    const inherited = new Set(bases.flatMap(inheritedKeys));
    if (new Set(keys).size === keys.length && !keys.some((k) => inherited.has(k))) {
      if (bases.length > 0 && keys.length === 0 && bases.length === 1) {
        return `${head}export type ${name} = ${bases[0]};\n`;
      }
      const ext = bases.length ? ` extends ${bases.join(', ')}` : '';
      return `${head}export interface ${name}${ext} {\n${inline.map(members).join('')}}\n`;
    }
  }
  if (!s.allOf && !s.enum && hasProps(s) && s.additionalProperties === undefined && s.type !== 'array') {
    return `${head}export interface ${name} {\n${members(s)}}\n`;
  }
  return `${head}export type ${name} = ${shapeOf(s).text};\n`;
}

const chunks = [
  `// Code generated by scripts/gen-api-types.mjs from ${basename(inputPath)}. DO NOT EDIT.\n`,
  '// The Docker Engine API is licensed under Apache-2.0 (see shared/reference/docker-engine-api.LICENSE).\n',
  '//\n',
  `// ${spec.info?.title ?? 'Docker Engine API'} ${spec.info?.version ?? ''}: ${Object.keys(defs).length} definitions`,
  ` plus ${extraTypes.length} named inline schemas and ${aliases.size} title aliases.\n`,
  '// Regenerate with `node scripts/gen-api-types.mjs`.\n\n',
];

for (const [key, s] of Object.entries(defs)) {
  chunks.push(declare(key, s), '\n');
  const alias = aliases.get(key);
  if (alias) {
    chunks.push(`/** The contract's \`title\` for {@link ${key}}. */\nexport type ${alias} = ${key};\n\n`);
  }
}

for (const { name, schema, origin } of extraTypes) {
  const note = origin
    ? [
        `${origin.what[0].toUpperCase()}${origin.what.slice(1)} of \`${origin.where}\`` +
          (origin.operationId ? ` (${origin.operationId})` : '') +
          (origin.derived ? '; untitled in the contract, named by the generator.' : '.'),
      ]
    : [];
  chunks.push(declare(name, schema, note), '\n');
}

const config = (await prettier.resolveConfig(outPath)) ?? {};
const output = await prettier.format(chunks.join(''), { ...config, filepath: outPath });

if (check) {
  const current = await readFile(outPath, 'utf8').catch(() => '');
  if (current !== output) {
    console.error(`${outPath} is out of date; run node scripts/gen-api-types.mjs`);
    process.exit(1);
  }
} else {
  await mkdir(fileURLToPath(new URL('../src/api/types/', import.meta.url)), { recursive: true });
  await writeFile(outPath, output);
  console.log(
    `wrote ${outPath}: ${Object.keys(defs).length} definitions, ${extraTypes.length} inline schemas, ${aliases.size} aliases`,
  );
}
