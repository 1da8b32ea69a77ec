/**
 * Writes agent-protocol/android/stubs/src: declarations of the Android framework classes the agent
 * uses, read from android.jar with javap, so that the agent compiles without android.jar. Run it
 * after the agent starts using a framework class it did not use before:
 *
 *   npx tsx agent-protocol/android/stubs/generate.ts .cache/agent-apk/android-23.jar .cache/agent-apk/work/classes
 *
 * (the second folder holds the agent's classes as build.sh compiled them against android.jar).
 * build.sh compiles the agent against both and checks that the class files are identical:
 * constants are inlined, so a wrong stub would change the bytecode.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

const [jarArg, classesArg] = process.argv.slice(2);
if (!jarArg || !classesArg) throw new Error('usage: generate.ts ANDROID_JAR CLASSES_DIR');
const androidJar: string = jarArg;
const classesDir: string = classesArg;
const OUT = join(__dirname, 'src');

function classFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => (statSync(join(dir, n)).isDirectory() ? classFiles(join(dir, n)) : n.endsWith('.class') ? [join(dir, n)] : []));
}

const javap = (args: string[]) => execFileSync('javap', args, { encoding: 'utf8', maxBuffer: 64 << 20 });

// Every framework class the agent's bytecode names.
const used = new Set<string>();
const verbose = javap(['-v', ...classFiles(classesDir)]);
for (const m of verbose.matchAll(/(android\/[\w/$]+)/g)) used.add(m[1]!.replaceAll('/', '.'));

interface Decl {
  name: string;
  header: string;
  members: string[];
}
const decls = new Map<string, Decl>();

function read(names: string[]): void {
  const text = javap(['-protected', '-constants', '-cp', androidJar, ...names]);
  for (const block of text.split(/^Compiled from .*$/m).slice(1)) {
    const lines = block.trim().split('\n');
    const header = lines[0]!.replace(/\s*\{$/, '');
    const name = /(?:class|interface) ([\w.$]+)/.exec(header)![1]!;
    decls.set(name, { name, header, members: lines.slice(1, -1).map((l) => l.trim()) });
  }
}

// The set closes over superclasses and enclosing classes.
let pending = [...used];
while (pending.length) {
  read(pending);
  const next = new Set<string>();
  for (const d of decls.values()) {
    const sup = / extends ([\w.$]+)/.exec(d.header)?.[1];
    if (sup?.startsWith('android.') && !decls.has(sup) && !d.header.includes(' interface ')) next.add(sup);
    if (d.name.includes('$')) {
      const outer = d.name.slice(0, d.name.lastIndexOf('$'));
      if (!decls.has(outer)) next.add(outer);
    }
  }
  pending = [...next];
}

/** java.* is the JDK's; of the rest, only the classes stubbed here exist. */
const known = (type: string) => type.startsWith('java.') || decls.has(type);
const allKnown = (text: string) => [...text.matchAll(/\b[a-z]\w*(?:\.[a-z]\w*)*\.[A-Z][\w$]*/g)].every((m) => known(m[0]));
const javaName = (t: string) => t.replaceAll('$', '.');
const simple = (name: string) => name.slice(Math.max(name.lastIndexOf('.'), name.lastIndexOf('$')) + 1);

/** Splits "a, java.util.Map<K, V>, b" at top-level commas. */
function params(list: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of list) {
    if (ch === '<') depth++;
    if (ch === '>') depth--;
    if (ch === ',' && depth === 0) {
      out.push(cur.trim());
      cur = '';
    } else cur += ch;
  }
  if (cur.trim()) out.push(cur.trim());
  return out;
}

function member(d: Decl, line: string, isInterface: boolean): string | null {
  // A constant's value may look like a class name ("android.intent.action.…"): only the declaration counts.
  if (line.startsWith('static {}') || !allKnown(line.replace(/ = .*$/, ''))) return null;
  const text = javaName(line.replace(/;$/, '')).replace(/\bnative /, '');
  const paren = text.indexOf('(');
  if (paren < 0) {
    // A field: a constant keeps its value (it is inlined); any other loses `final`, having none.
    return text.includes(' = ') ? `${text};` : `${text.replace(/\bfinal /, '')};`;
  }
  const close = text.lastIndexOf(')');
  const args = params(text.slice(paren + 1, close)).map((t, i) => `${t} p${i}`);
  const head = text.slice(0, paren);
  const rest = text.slice(close + 1);
  const ctorName = javaName(d.name);
  const isCtor = head.endsWith(` ${ctorName}`) || head === ctorName;
  const declared = isCtor ? head.replace(ctorName, simple(d.name)) : head;
  const body = /\babstract\b/.test(head) || (isInterface && !/\bstatic\b/.test(head)) ? ';' : ' { throw new RuntimeException("Stub!"); }';
  return `${declared}(${args.join(', ')})${rest}${body}`;
}

/**
 * javap lists the compiler's bridge methods (clone() returning Object beside the covariant one,
 * compareTo(Object) beside compareTo(T)); they cannot be declared twice in source.
 */
function withoutBridges(lines: string[]): string[] {
  const sig = (l: string) => /([\w$]+)\(([^)]*)\)/.exec(l);
  const erased = (t: string) => t.replace(/<.*>/, '');
  return lines.filter((l) => {
    const m = sig(l);
    if (!m) return true;
    const mine = params(m[2]!).map(erased);
    const returnsObject = /\sjava\.lang\.Object [\w$]+\(/.test(` ${l}`);
    return !lines.some((o) => {
      const n = sig(o);
      if (o === l || !n || n[1] !== m[1]) return false;
      const theirs = params(n[2]!).map(erased);
      if (theirs.length !== mine.length) return false;
      const covers = mine.every((t, i) => t === 'java.lang.Object' || t === theirs[i]);
      return covers && (returnsObject || mine.some((t, i) => t === 'java.lang.Object' && theirs[i] !== t));
    });
  });
}

function render(d: Decl, nested: Map<string, Decl[]>, indent: string): string {
  const isInterface = / interface /.test(` ${d.header} `);
  // Implemented interfaces the agent never names are left out.
  const [own, list] = d.header.split(isInterface ? ' extends ' : ' implements ');
  const kept = list ? params(list).filter((t) => allKnown(t)) : [];
  let header = javaName(kept.length ? `${own} ${isInterface ? 'extends' : 'implements'} ${kept.join(', ')}` : own!).replace(javaName(d.name), simple(d.name));
  if (d.name.includes('$') && !isInterface) header = header.replace(/^(public|protected)( static)?/, '$1 static');
  const members = withoutBridges(d.members).map((l) => member(d, l, isInterface)).filter((m): m is string => m !== null);
  // Subclasses (the agent's or other stubs') call super(): every stub class has a no-argument constructor.
  const ctorName = javaName(d.name);
  if (!isInterface && !d.members.some((l) => javaName(l).replace(/;$/, '').endsWith(`${ctorName}()`))) members.unshift(`protected ${simple(d.name)}() {}`);
  const inner = (nested.get(d.name) ?? []).map((n) => render(n, nested, `${indent}    `));
  return [`${indent}${header} {`, ...members.map((m) => `${indent}    ${m}`), ...inner, `${indent}}`].join('\n');
}

const nested = new Map<string, Decl[]>();
for (const d of decls.values()) {
  if (!d.name.includes('$')) continue;
  const outer = d.name.slice(0, d.name.lastIndexOf('$'));
  nested.set(outer, [...(nested.get(outer) ?? []), d]);
}

rmSync(OUT, { recursive: true, force: true });
for (const d of decls.values()) {
  if (d.name.includes('$')) continue;
  const pkg = d.name.slice(0, d.name.lastIndexOf('.'));
  const file = join(OUT, ...pkg.split('.'), `${simple(d.name)}.java`);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, `// Generated by agent-protocol/android/stubs/generate.ts from android.jar (API 23): declarations only.\npackage ${pkg};\n\n${render(d, nested, '')}\n`);
}
process.stdout.write(`${decls.size} classes written to ${OUT}\n`);
