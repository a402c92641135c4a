/**
 * Shape signals that word lists miss: code, structured data, math notation, lists of
 * requirements and questions. One pass over the lines of the text, no backtracking patterns.
 */
export interface StructureCounts {
  codeFences: number;
  codeLines: number;
  dataLines: number;
  mathMarks: number;
  listItems: number;
  questions: number;
  /** camelCase, snake_case and call-like `name(` tokens in prose. */
  identifiers: number;
  /** Numbers (digits runs), a sign of quantitative work. */
  numbers: number;
  /** Money amounts: a currency sign before a digit. */
  money: number;
  lines: number;
}

const CODE_LINE_ENDINGS = new Set([';', '{', '}', ')', ']', ':']);
const CODE_LINE_STARTS = [
  'def ',
  'class ',
  'function ',
  'import ',
  'from ',
  'return ',
  'const ',
  'let ',
  'var ',
  'if (',
  'for (',
  'while (',
  'public ',
  'private ',
  'fn ',
  '#include',
  'package ',
  'func ',
  'select ',
  'at ',
  '} ',
  '//',
  '# ',
];
const MATH_CHARS = new Set(
  ['∫', '∑', '√', 'π', '≤', '≥', '≠', '∞', '∂', '∈', '∀', '∃', '^', '±', '×', '÷'].map((c) =>
    c.charCodeAt(0),
  ),
);
const [DOT, DOLLAR, EURO, POUND, UNDERSCORE, OPEN_PAREN] = ['.', '$', '€', '£', '_', '('].map((c) =>
  c.charCodeAt(0),
);
const LATEX_MARKS = ['\\frac', '\\sum', '\\int', '\\sqrt', '\\lim', '\\cdot', '$$'];

function isListItem(line: string): boolean {
  const first = line.charCodeAt(0);
  if (line.startsWith('- ') || line.startsWith('* ') || line.startsWith('• ')) return true;
  if (first < 48 || first > 57) return false;
  let i = 1;
  while (i < line.length && i < 4 && line.charCodeAt(i) >= 48 && line.charCodeAt(i) <= 57) i++;
  return (line[i] === '.' || line[i] === ')') && line[i + 1] === ' ';
}

function countChar(line: string, char: string): number {
  let count = 0;
  for (let at = line.indexOf(char); at !== -1; at = line.indexOf(char, at + 1)) count++;
  return count;
}

enum Kind {
  Other = 0,
  Lower = 1,
  Upper = 2,
  Digit = 3,
}

function kindOf(code: number): Kind {
  if (code >= 97 && code <= 122) return Kind.Lower;
  if (code >= 65 && code <= 90) return Kind.Upper;
  if (code >= 48 && code <= 57) return Kind.Digit;
  return Kind.Other;
}

/**
 * Per-character counts in one pass: math marks, numbers, money, identifier shapes. Works on
 * character codes, not one-character strings: this loop runs over every scanned character.
 */
function countCharacters(line: string, into: StructureCounts): void {
  let previous = Kind.Other;
  let previousCode = -1;
  for (let i = 0; i < line.length; i++) {
    const code = line.charCodeAt(i);
    const kind = kindOf(code);
    if (code > 0x7f || code === 0x5e) {
      if (MATH_CHARS.has(code)) into.mathMarks++;
    }
    if (kind === Kind.Digit && previous !== Kind.Digit && previousCode !== DOT) {
      into.numbers++;
      if (previousCode === DOLLAR || previousCode === EURO || previousCode === POUND) into.money++;
    }
    if (kind === Kind.Upper && previous === Kind.Lower) into.identifiers++;
    if (code === UNDERSCORE && previous === Kind.Lower && kindOf(line.charCodeAt(i + 1)) === Kind.Lower)
      into.identifiers++;
    if (code === OPEN_PAREN && (previous === Kind.Lower || previous === Kind.Digit)) into.identifiers++;
    previous = kind;
    previousCode = code;
  }
}

export function emptyStructure(): StructureCounts {
  return {
    codeFences: 0,
    codeLines: 0,
    dataLines: 0,
    mathMarks: 0,
    listItems: 0,
    questions: 0,
    identifiers: 0,
    numbers: 0,
    money: 0,
    lines: 0,
  };
}

export function countStructure(text: string, into: StructureCounts = emptyStructure()): StructureCounts {
  let start = 0;
  while (start <= text.length) {
    let end = text.indexOf('\n', start);
    if (end === -1) end = text.length;
    const raw = text.slice(start, end);
    start = end + 1;
    into.lines++;
    const indented = raw.startsWith('    ') || raw.startsWith('\t');
    const line = raw.trim();
    if (line.length === 0) continue;
    if (line.startsWith('```')) {
      into.codeFences++;
      continue;
    }
    const last = line[line.length - 1]!;
    const lower = line.toLowerCase();
    const looksLikeCode =
      (indented && /[(){}=;[\]]/.test(line)) ||
      (CODE_LINE_ENDINGS.has(last) && /[(){}=;]/.test(line) && !line.endsWith('?)')) ||
      CODE_LINE_STARTS.some((prefix) => lower.startsWith(prefix) && /[(){}=:.;]/.test(line)) ||
      line.includes('=>') ||
      line.includes('();');
    if (looksLikeCode) into.codeLines++;
    const commas = countChar(line, ',');
    const tightCommas = commas - countChar(line, ', ');
    if (
      line.startsWith('|') ||
      (line.startsWith('"') && line.includes('":')) ||
      line.startsWith('{"') ||
      line.startsWith('<') ||
      (tightCommas >= 2 && line.length < 400 && !line.includes('. '))
    ) {
      into.dataLines++;
    }
    if (isListItem(line)) into.listItems++;
    into.questions += countChar(line, '?');
    countCharacters(line, into);
    for (const mark of LATEX_MARKS) if (line.includes(mark)) into.mathMarks += 2;
  }
  return into;
}
