// The events' wire types from docs/events.schema.json: src/events.gen.ts,
// written before every build (scripts/build.mjs) and not kept in git.
// For each channel of the schema (room-topic, notifications, …) an
// interface `<Channel>Bodies` maps every event name to the TypeScript type
// of its JSON body, and `<Channel>EventName` is their union; the shared
// definitions (Room, Message, …) become `SchemaRoom`, `SchemaMessage`, ….
// src/events.ts parses each event through a table keyed by these names and
// reads bodies through these types, so an event added to, renamed in or
// reshaped in the schema stops the build until the client follows.
//
// The JSON Schema keywords the schema uses for shapes are translated:
// type, properties, required, additionalProperties, items, enum, const,
// oneOf, anyOf, allOf and local $refs; the rest (patterns, bounds, if/then)
// constrain values TypeScript does not type, and are left to the tests
// that validate events against the schema itself.
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const pkg = path.join(here, "..");
const schemaFile = process.env.CHATD_EVENTS_SCHEMA ?? path.join(pkg, "..", "..", "docs", "events.schema.json");
const schema = JSON.parse(readFileSync(schemaFile, "utf8"));
const defs = schema.$defs;

const pascal = (s) => s.split(/[^A-Za-z0-9]+/).filter(Boolean).map((w) => w[0].toUpperCase() + w.slice(1)).join("");
const key = (k) => (/^[A-Za-z_$][A-Za-z0-9_$]*$/.test(k) ? k : JSON.stringify(k));
const isChannel = (d) => d && d.$defs && d.properties && d.properties.destination;
const shared = Object.keys(defs).filter((n) => !isChannel(defs[n]));

function resolve(ref) {
  if (!ref.startsWith("#/")) throw new Error(`${schemaFile}: a $ref outside the file: ${ref}`);
  let node = schema;
  for (const part of ref.slice(2).split("/")) {
    node = node[part];
    if (node === undefined) throw new Error(`${schemaFile}: dangling $ref ${ref}`);
  }
  return node;
}

function union(types) {
  const uniq = [...new Set(types)];
  if (uniq.includes("unknown")) return "unknown";
  return uniq.length === 1 ? uniq[0] : uniq.map((t) => (/[&|]/.test(t) && !t.startsWith("{") ? `(${t})` : t)).join(" | ");
}

/** The TypeScript type of a schema node. */
function ts(node, indent = "") {
  if (node === true || node === undefined || (typeof node === "object" && Object.keys(node).length === 0)) return "unknown";
  if (node.$ref) {
    const m = /^#\/\$defs\/([^/]+)$/.exec(node.$ref);
    if (m && shared.includes(m[1])) return `Schema${pascal(m[1])}`;
    return ts(resolve(node.$ref), indent);
  }
  if ("const" in node) return JSON.stringify(node.const);
  if (node.enum) return union(node.enum.map((v) => JSON.stringify(v)));
  if (node.oneOf || node.anyOf) return union((node.oneOf ?? node.anyOf).map((n) => ts(n, indent)));
  if (node.allOf) {
    // Parts that only require members or add conditions (if/then) add nothing to the type.
    const { allOf, ...own } = node;
    const parts = [own, ...allOf].filter((n) => n.$ref || n.type || n.properties || n.oneOf || n.enum || "const" in n)
      .map((n) => ts(n, indent));
    return parts.length ? parts.join(" & ") : "unknown";
  }
  const types = Array.isArray(node.type) ? node.type : node.type ? [node.type] : node.properties ? ["object"] : [];
  if (!types.length) return "unknown";
  return union(types.map((t) => {
    switch (t) {
      case "string": return "string";
      case "integer": case "number": return "number";
      case "boolean": return "boolean";
      case "null": return "null";
      case "array": return `${node.items ? wrap(ts(node.items, indent)) : "unknown"}[]`;
      case "object": return object(node, indent);
      default: throw new Error(`${schemaFile}: type ${t} is not translated`);
    }
  }));
}

const wrap = (t) => (/[ |&]/.test(t) && !t.startsWith("{") ? `(${t})` : t);

function object(node, indent) {
  const inner = indent + "  ";
  const required = new Set(node.required ?? []);
  const lines = [];
  for (const [name, prop] of Object.entries(node.properties ?? {})) {
    if (prop === null || typeof prop !== "object") continue; // not a schema (a stray annotation)
    const doc = prop.description ? `${inner}/** ${prop.description.replace(/\*\//g, "* /").replace(/\s+/g, " ").trim()} */\n` : "";
    lines.push(`${doc}${inner}${key(name)}${required.has(name) ? "" : "?"}: ${ts(prop, inner)};`);
  }
  if (node.additionalProperties !== false) lines.push(`${inner}[member: string]: unknown;`);
  return lines.length ? `{\n${lines.join("\n")}\n${indent}}` : "Record<string, never>";
}

/** An event's body: its own, or through the definition it names ($ref). */
function body(event) {
  if (event.properties && event.properties.body) return event.properties.body;
  if (event.$ref) return body(resolve(event.$ref));
  return undefined;
}

const out = [
  `// Generated by scripts/gen-events.mjs from docs/events.schema.json at build time: do not edit.`,
  `// The JSON body of every event the server publishes, by channel and event name.`,
  ``,
];
for (const name of shared) {
  const d = defs[name];
  if (isChannel(d)) continue;
  if (d.description) out.push(`/** ${d.description.replace(/\*\//g, "* /").replace(/\s+/g, " ").trim()} */`);
  out.push(`export type Schema${pascal(name)} = ${name === "MessageChange" ? ts(body(d)) : ts(d)};`, ``);
}
const channels = [];
for (const [name, d] of Object.entries(defs)) {
  if (!isChannel(d)) continue;
  const type = pascal(name);
  channels.push([name, type, Object.keys(d.$defs).sort()]);
  out.push(`/** ${d.description ? d.description.replace(/\*\//g, "* /").replace(/\s+/g, " ").trim() : name} */`);
  out.push(`export interface ${type}Bodies {`);
  for (const ev of Object.keys(d.$defs).sort()) out.push(`  ${key(ev)}: ${ts(body(d.$defs[ev]) ?? {}, "  ")};`);
  out.push(`}`, `export type ${type}EventName = keyof ${type}Bodies;`, ``);
}
out.push(`/** Every channel's event names, as the schema lists them. */`);
out.push(`export const schemaEvents = {`);
for (const [name, , events] of channels) out.push(`  ${key(name)}: ${JSON.stringify(events)},`);
out.push(`} as const;`, ``);

// CHATD_EVENTS_SCHEMA and CHATD_EVENTS_GEN_OUT point elsewhere (test/schema.test.mjs).
const target = process.env.CHATD_EVENTS_GEN_OUT ?? path.join(pkg, "src", "events.gen.ts");
writeFileSync(target, out.join("\n"));
