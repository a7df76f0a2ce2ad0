/**
 * Coverage instrumentation for the fuzzer: a TypeScript transformer that puts
 * a counter on every edge a decoder can take — function entry, both arms of
 * every `if`, loop bodies, `case` and `default` clauses, `catch` blocks, both
 * arms of `?:`, and the right operand of `&&`, `||` and `??` — then emits
 * JavaScript as `tsc` would (types stripped, no type check).
 *
 * Counters live in one shared `Uint8Array` of {@link MAP_SIZE} bytes on
 * `globalThis.__sbCov`, indexed by IDs drawn from a per-file sequence (AFL's
 * scheme: a collision now and then costs a little precision, nothing else).
 * Works on TypeScript and JavaScript sources alike.
 */
import ts from "typescript";

export const MAP_SIZE = 1 << 16;
const COUNTERS = "__sbCov";

function fnv1a(s) {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

const LOGICAL = new Set([ts.SyntaxKind.AmpersandAmpersandToken, ts.SyntaxKind.BarBarToken, ts.SyntaxKind.QuestionQuestionToken]);

/** Returns `source` (TypeScript or JavaScript) compiled to instrumented ESM JavaScript. */
export function instrument(source, fileName) {
  let state = fnv1a(fileName);
  let edges = 0;
  const nextId = () => {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    edges++;
    return (state >>> 8) % MAP_SIZE;
  };

  const transformer = (context) => {
    const f = context.factory;
    const bump = () => f.createPostfixIncrement(f.createElementAccessExpression(f.createIdentifier(COUNTERS), f.createNumericLiteral(nextId())));
    const bumpStatement = () => f.createExpressionStatement(bump());
    const withBump = (expr) => f.createParenthesizedExpression(f.createCommaListExpression([bump(), expr]));
    const blockWithBump = (stmt) => {
      if (stmt === undefined) return f.createBlock([bumpStatement()], true);
      if (ts.isBlock(stmt)) return f.updateBlock(stmt, [bumpStatement(), ...stmt.statements]);
      return f.createBlock([bumpStatement(), stmt], true);
    };

    const visit = (node) => {
      // Types carry no edges.
      if (ts.isTypeNode(node) || ts.isInterfaceDeclaration(node) || ts.isTypeAliasDeclaration(node)) return node;
      const n = ts.visitEachChild(node, visit, context);
      if (ts.isBlock(node) && node.parent !== undefined && ts.isFunctionLike(node.parent)) {
        return f.updateBlock(n, [bumpStatement(), ...n.statements]);
      }
      if (ts.isArrowFunction(n) && !ts.isBlock(n.body)) {
        return f.updateArrowFunction(n, n.modifiers, n.typeParameters, n.parameters, n.type, n.equalsGreaterThanToken, withBump(n.body));
      }
      if (ts.isIfStatement(n)) {
        const otherwise = n.elseStatement !== undefined && ts.isIfStatement(n.elseStatement) ? n.elseStatement : blockWithBump(n.elseStatement);
        return f.updateIfStatement(n, n.expression, blockWithBump(n.thenStatement), otherwise);
      }
      if (ts.isForStatement(n)) return f.updateForStatement(n, n.initializer, n.condition, n.incrementor, blockWithBump(n.statement));
      if (ts.isForOfStatement(n)) return f.updateForOfStatement(n, n.awaitModifier, n.initializer, n.expression, blockWithBump(n.statement));
      if (ts.isForInStatement(n)) return f.updateForInStatement(n, n.initializer, n.expression, blockWithBump(n.statement));
      if (ts.isWhileStatement(n)) return f.updateWhileStatement(n, n.expression, blockWithBump(n.statement));
      if (ts.isDoStatement(n)) return f.updateDoStatement(n, blockWithBump(n.statement), n.expression);
      if (ts.isCaseClause(n)) return f.updateCaseClause(n, n.expression, [bumpStatement(), ...n.statements]);
      if (ts.isDefaultClause(n)) return f.updateDefaultClause(n, [bumpStatement(), ...n.statements]);
      if (ts.isCatchClause(n)) return f.updateCatchClause(n, n.variableDeclaration, blockWithBump(n.block));
      if (ts.isConditionalExpression(n)) {
        return f.updateConditionalExpression(n, n.condition, n.questionToken, withBump(n.whenTrue), n.colonToken, withBump(n.whenFalse));
      }
      if (ts.isBinaryExpression(n) && LOGICAL.has(n.operatorToken.kind)) {
        return f.updateBinaryExpression(n, n.left, n.operatorToken, withBump(n.right));
      }
      return n;
    };

    return (sourceFile) => {
      const visited = ts.visitNode(sourceFile, visit);
      // var __sbCov = globalThis.__sbCov ?? (globalThis.__sbCov = new Uint8Array(MAP_SIZE));
      const shared = f.createPropertyAccessExpression(f.createIdentifier("globalThis"), COUNTERS);
      const init = f.createBinaryExpression(
        shared,
        ts.SyntaxKind.QuestionQuestionToken,
        f.createParenthesizedExpression(
          f.createAssignment(shared, f.createNewExpression(f.createIdentifier("Uint8Array"), undefined, [f.createNumericLiteral(MAP_SIZE)])),
        ),
      );
      const prologue = f.createVariableStatement(undefined, f.createVariableDeclarationList([f.createVariableDeclaration(COUNTERS, undefined, undefined, init)], ts.NodeFlags.None));
      return f.updateSourceFile(visited, [prologue, ...visited.statements]);
    };
  };

  const out = ts.transpileModule(source, {
    fileName,
    compilerOptions: {
      module: ts.ModuleKind.ESNext,
      target: ts.ScriptTarget.ES2022,
      allowJs: true,
      sourceMap: false,
      inlineSourceMap: false,
      removeComments: true,
    },
    transformers: { before: [transformer] },
  });
  return { code: out.outputText, edges };
}
