/**
 * Money in integer pico-dollars (1e-12 USD) as bigint. A price of P USD per million tokens is
 * P × 1e6 pico-dollars per token, so prices with up to six decimal digits in total across the
 * price and its multipliers (e.g. 1.25 × 0.5 batch × 1.1 geo) stay exact.
 */
export const PICO_PER_USD = 1_000_000_000_000n;
export const PICO_PER_MICRO = 1_000_000n;

/** A decimal string as an exact fraction: `units / 10^scale`. */
export interface Decimal {
  units: bigint;
  scale: number;
}

export function parseDecimal(text: string): Decimal {
  const match = /^(\d+)(?:\.(\d+))?$/.exec(text.trim());
  if (!match) throw new Error(`"${text}" is not a non-negative decimal number`);
  const fraction = match[2] ?? '';
  return { units: BigInt(match[1]! + fraction), scale: fraction.length };
}

export function multiplyDecimals(...factors: Decimal[]): Decimal {
  return factors.reduce((acc, f) => ({ units: acc.units * f.units, scale: acc.scale + f.scale }), {
    units: 1n,
    scale: 0,
  });
}

/** Divides by 10^scale, rounding half away from zero (only reached when a price has > 6 decimals). */
export function divideByPowerOfTen(value: bigint, scale: number): bigint {
  if (scale <= 0) return value * 10n ** BigInt(-scale);
  const divisor = 10n ** BigInt(scale);
  const quotient = value / divisor;
  const remainder = value % divisor;
  const twice = (remainder < 0n ? -remainder : remainder) * 2n;
  if (twice >= divisor) return value < 0n ? quotient - 1n : quotient + 1n;
  return quotient;
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const POWERS_OF_TEN = Array.from({ length: 13 }, (_, i) => 10 ** i);

/** divideByPowerOfTen for safe integers, in Number arithmetic (every single request's cost). */
export function divideSafeByPowerOfTen(value: number, scale: number): number {
  const divisor = POWERS_OF_TEN[scale]!;
  let quotient = Math.trunc(value / divisor);
  let remainder = value - quotient * divisor;
  // The division may be off by one ulp; the remainder, exact, puts the quotient right.
  if (Math.abs(remainder) >= divisor) {
    quotient += Math.sign(remainder);
    remainder -= Math.sign(remainder) * divisor;
  } else if (remainder !== 0 && Math.sign(remainder) !== Math.sign(value)) {
    quotient -= Math.sign(value);
    remainder += Math.sign(value) * divisor;
  }
  if (2 * Math.abs(remainder) >= divisor) quotient += value < 0 ? -1 : 1;
  return quotient === 0 ? 0 : quotient; // never -0
}

/** USD decimal text ("1.25", "0.000687") to pico-dollars, exact. */
export function usdToPico(usd: string): bigint {
  const negative = usd.trim().startsWith('-');
  const parsed = parseDecimal(negative ? usd.trim().slice(1) : usd);
  const pico = divideByPowerOfTen(parsed.units * PICO_PER_USD, parsed.scale);
  return negative ? -pico : pico;
}

/** Pico-dollars to whole micro-dollars, rounded half away from zero. */
export function picoToMicros(pico: bigint): bigint {
  return divideByPowerOfTen(pico, 6);
}

/**
 * Pico-dollars as a USD decimal string with a fixed number of decimals (rounded), e.g.
 * `formatUsd(687_500n, 6)` → "0.000001". With `decimals` 12 the text is exact.
 */
export function formatUsd(pico: bigint, decimals = 6): string {
  if (decimals < 0 || decimals > 12) throw new RangeError('decimals must be between 0 and 12');
  if (pico <= MAX_SAFE && pico >= -MAX_SAFE) {
    // Every single request's cost: Number arithmetic, exact below 2^53.
    const rounded = divideSafeByPowerOfTen(Number(pico), 12 - decimals);
    const digits = Math.abs(rounded)
      .toString()
      .padStart(decimals + 1, '0');
    return joinDigits(rounded < 0, digits, decimals);
  }
  const rounded = divideByPowerOfTen(pico, 12 - decimals);
  const negative = rounded < 0n;
  return joinDigits(
    negative,
    (negative ? -rounded : rounded).toString().padStart(decimals + 1, '0'),
    decimals,
  );
}

function joinDigits(negative: boolean, digits: string, decimals: number): string {
  const whole = digits.slice(0, digits.length - decimals);
  const fraction = decimals > 0 ? `.${digits.slice(digits.length - decimals)}` : '';
  return `${negative ? '-' : ''}${whole}${fraction}`;
}

/** Exact USD text without trailing zeros ("0.0006875", "12.5", "0"). */
export function formatUsdExact(pico: bigint): string {
  if (pico >= 0n && pico <= MAX_SAFE) {
    // Every priced response's header: Number arithmetic, no rounding, no pattern.
    const value = Number(pico);
    let whole = Math.floor(value / 1e12);
    let fraction = value - whole * 1e12;
    // The division may be off by one ulp near a whole dollar; the remainder, exact, says so.
    if (fraction < 0) {
      whole -= 1;
      fraction += 1e12;
    } else if (fraction >= 1e12) {
      whole += 1;
      fraction -= 1e12;
    }
    if (fraction === 0) return String(whole);
    let digits = 12;
    while (fraction % 10 === 0) {
      fraction /= 10;
      digits--;
    }
    return `${whole}.${String(fraction).padStart(digits, '0')}`;
  }
  const text = formatUsd(pico, 12);
  return text.includes('.') ? text.replace(/\.?0+$/, '') : text;
}

/** For people: "$1,234.57" for larger amounts, more decimals for small ones. */
export function displayUsd(pico: bigint): string {
  const absolute = pico < 0n ? -pico : pico;
  const decimals = absolute >= PICO_PER_USD ? 2 : absolute >= PICO_PER_USD / 1000n ? 4 : 6;
  const text = formatUsd(pico, decimals);
  const [whole, fraction] = text.replace('-', '').split('.');
  const grouped = whole!.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return `${pico < 0n ? '-' : ''}$${grouped}${fraction ? `.${fraction}` : ''}`;
}

/** Pico-dollars stored as a JavaScript number in a row (one request stays far below 2^53). */
export function picoToSafeNumber(pico: bigint): number {
  if (pico > BigInt(Number.MAX_SAFE_INTEGER) || pico < -BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new RangeError(`amount ${pico} pico-dollars is beyond exact number range`);
  }
  return Number(pico);
}

/** A database aggregate (number, numeric text or bigint) as exact pico-dollars. */
export function toPico(value: unknown): bigint {
  if (value === null || value === undefined) return 0n;
  if (typeof value === 'bigint') return value;
  if (typeof value === 'number') return BigInt(Math.trunc(value));
  const text = String(value);
  return BigInt(text.includes('.') ? text.slice(0, text.indexOf('.')) : text);
}
