/**
 * Finds where server/src defines default and limit values, for the
 * single-owner test (server/test/config/single-owner.test.ts). Reads the
 * sources with the TypeScript parser; nothing is imported or run.
 *
 * A *definition* is a value written as a literal (numbers, arithmetic on
 * numbers, strings), in one of these places:
 * - a module-level `const DEFAULT_X = …` / `MAX_X` / `MIN_X`, exported or not;
 * - a property of an object literal bound to such a constant
 *   (`DEFAULT_LIMITS = { eventQueueMaxBytes: 64 * 1024 * 1024 }`);
 * - the value of a config default, `d(value, unit, reason)` in
 *   config/defaults.ts (a duration string counts as its milliseconds).
 * A value built from another constant (`4 * MAX_BATCH_COMMANDS`,
 * `d(MCONN.DEFAULT_SEND_RATE…)`) is a use of that constant, not a definition.
 *
 * An *inline default* is `options.x ?? <number other than 0>` (a property
 * read, as of options or config): a default written where it is used instead
 * of named by its layer. A fallback after a call (`counts.get(k) ?? 1`) is
 * arithmetic, not a default.
 */
import { readFileSync, readdirSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import ts from "typescript";

export interface Definition {
  /** Path relative to server/src. */
  readonly file: string;
  /** `NAME` or `NAME.property`. */
  readonly name: string;
  /** The value; durations (also "3s" in config/defaults.ts) and byte counts as numbers. */
  readonly value: number | string | boolean;
  /** "ms" for durations, "" otherwise (a count, bytes, a rate: told apart by name only). */
  readonly unit: "ms" | "";
  readonly line: number;
}

export interface InlineDefault {
  readonly file: string;
  readonly line: number;
  readonly text: string;
}

const NAME = /^(DEFAULT|MAX|MIN)_[A-Z0-9_]+$/;
const DURATION_PART = /(\d+(?:\.\d*)?)(ms|s|m|h)/y;
const DURATION_UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };

/** Every .ts file under `dir`, generated code left out. */
export function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) {
      if (name !== "gen") out.push(...sourceFiles(path));
    } else if (name.endsWith(".ts") && !name.endsWith(".d.ts")) {
      out.push(path);
    }
  }
  return out.sort();
}

/** The value of a literal expression, or undefined when it involves anything but literals. */
export function literalValue(node: ts.Expression): number | string | boolean | undefined {
  if (ts.isParenthesizedExpression(node) || ts.isAsExpression(node) || ts.isSatisfiesExpression(node)) return literalValue(node.expression);
  if (ts.isNumericLiteral(node)) return Number(node.text);
  if (ts.isBigIntLiteral(node)) return Number(node.text.slice(0, -1));
  if (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node)) return node.text;
  if (node.kind === ts.SyntaxKind.TrueKeyword) return true;
  if (node.kind === ts.SyntaxKind.FalseKeyword) return false;
  if (ts.isPrefixUnaryExpression(node) && node.operator === ts.SyntaxKind.MinusToken) {
    const v = literalValue(node.operand);
    return typeof v === "number" ? -v : undefined;
  }
  if (ts.isBinaryExpression(node)) {
    const a = literalValue(node.left);
    const b = literalValue(node.right);
    if (typeof a !== "number" || typeof b !== "number") return undefined;
    switch (node.operatorToken.kind) {
      case ts.SyntaxKind.AsteriskToken:
        return a * b;
      case ts.SyntaxKind.PlusToken:
        return a + b;
      case ts.SyntaxKind.MinusToken:
        return a - b;
      case ts.SyntaxKind.SlashToken:
        return a / b;
      case ts.SyntaxKind.AsteriskAsteriskToken:
        return a ** b;
      case ts.SyntaxKind.LessThanLessThanToken:
        return a << b;
      default:
        return undefined;
    }
  }
  return undefined;
}

/** Milliseconds of a Go-style duration string ("100ms", "3s", "1m30s"), or undefined. */
export function durationMs(text: string): number | undefined {
  if (text === "0") return 0;
  let total = 0;
  DURATION_PART.lastIndex = 0;
  while (DURATION_PART.lastIndex < text.length) {
    const at = DURATION_PART.lastIndex;
    const m = DURATION_PART.exec(text);
    if (m === null || m.index !== at) return undefined;
    total += Number(m[1]) * (DURATION_UNIT_MS[m[2] ?? ""] ?? Number.NaN);
  }
  return text.length === 0 ? undefined : total;
}

function unitOfName(name: string): "ms" | "" {
  return /(_MS|Ms)(\.|$)/.test(name) || /(_MS_|Ms)/.test(name.split(".").pop() ?? "") ? "ms" : "";
}

/** Scans one file's text; `file` is its path relative to server/src. */
export function scanSource(file: string, text: string): { definitions: Definition[]; inlineDefaults: InlineDefault[] } {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const definitions: Definition[] = [];
  const inlineDefaults: InlineDefault[] = [];
  const lineOf = (node: ts.Node): number => source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1;
  const isConfigDefaults = file === "config/defaults.ts";

  const add = (name: string, node: ts.Expression, unit: "ms" | "" = unitOfName(name)): void => {
    const value = literalValue(node);
    if (value === undefined || value === "") return;
    definitions.push({ file, name, value, unit, line: lineOf(node) });
  };

  const visit = (node: ts.Node): void => {
    // Module-level constants, exported or not: a private copy of a limit is still a second definition.
    if (ts.isVariableStatement(node) && ts.isSourceFile(node.parent)) {
      for (const decl of node.declarationList.declarations) {
        if (!ts.isIdentifier(decl.name) || decl.initializer === undefined || !NAME.test(decl.name.text)) continue;
        const name = decl.name.text;
        let init: ts.Expression = decl.initializer;
        // Object.freeze({...}) and the like: look inside.
        if (ts.isCallExpression(init) && ts.isPropertyAccessExpression(init.expression) && init.expression.name.text === "freeze" && init.arguments[0] !== undefined) {
          init = init.arguments[0];
        }
        if (isConfigDefaults && ts.isCallExpression(init) && ts.isIdentifier(init.expression) && init.expression.text === "d") {
          const [value, unit] = init.arguments;
          if (value === undefined) continue;
          const v = literalValue(value);
          const unitText = unit !== undefined ? literalValue(unit) : undefined;
          if (unitText === "duration" && typeof v === "string") {
            const ms = durationMs(v);
            if (ms !== undefined) definitions.push({ file, name, value: ms, unit: "ms", line: lineOf(value) });
          } else {
            add(name, value, "");
          }
        } else if (ts.isObjectLiteralExpression(init)) {
          for (const p of init.properties) {
            if (ts.isPropertyAssignment(p) && (ts.isIdentifier(p.name) || ts.isStringLiteral(p.name))) add(`${name}.${p.name.text}`, p.initializer);
          }
        } else {
          add(name, init);
        }
      }
    }
    if (ts.isBinaryExpression(node) && node.operatorToken.kind === ts.SyntaxKind.QuestionQuestionToken) {
      const v = literalValue(node.right);
      const read = ts.isPropertyAccessExpression(node.left) || ts.isElementAccessExpression(node.left);
      if (read && typeof v === "number" && v !== 0) inlineDefaults.push({ file, line: lineOf(node), text: node.getText(source) });
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return { definitions, inlineDefaults };
}

/** Scans every source file under `srcDir` (server/src). */
export function scanSources(srcDir: string): { definitions: Definition[]; inlineDefaults: InlineDefault[] } {
  const definitions: Definition[] = [];
  const inlineDefaults: InlineDefault[] = [];
  for (const path of sourceFiles(srcDir)) {
    const r = scanSource(relative(srcDir, path), readFileSync(path, "utf8"));
    definitions.push(...r.definitions);
    inlineDefaults.push(...r.inlineDefaults);
  }
  return { definitions, inlineDefaults };
}

/** Definitions grouped by unit and value, only the groups of two or more. */
export function equalValues(definitions: readonly Definition[]): Definition[][] {
  const groups = new Map<string, Definition[]>();
  for (const d of definitions) {
    const key = `${d.unit}:${typeof d.value}:${String(d.value)}`;
    const g = groups.get(key);
    if (g === undefined) groups.set(key, [d]);
    else g.push(d);
  }
  return [...groups.values()].filter((g) => g.length > 1);
}

/**
 * What a definition is about, from its name: whether it is a default (a
 * `DEFAULT_…` constant or a property of one) or a hard limit, then the name in
 * lower case, without `_`, the `default` prefix, the object holding it and
 * unit words, so that
 * `DEFAULT_SEND_RATE` (config) and `DEFAULT_SEND_RATE_BYTES_PER_SECOND` (wire),
 * or `DEFAULT_MAX_MESSAGE_BYTES` and `DEFAULT_GATEWAY_CONFIG.maxMessageBytes`,
 * are seen as one fact.
 */
export function subjectOf(name: string): string {
  // A default (of a setting) and a hard limit are different facts even about one thing:
  // DEFAULT_MAX_PACKET_MSG_PAYLOAD_BYTES (1024) and MAX_PACKET_MSG_PAYLOAD_BYTES (the largest allowed).
  const kind = name.startsWith("DEFAULT_") ? "default" : "limit";
  const subject = (name.split(".").pop() ?? name)
    .replace(/_/g, "")
    .toLowerCase()
    .replace(/^default/, "")
    .replace(/(bytespersecond|persecond|bytes|size|ms)$/, "");
  return `${kind} ${subject}`;
}
