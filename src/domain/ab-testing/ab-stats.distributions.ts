// Probability distributions behind the A/B test statistics (ab-stats.logic.ts): the standard
// normal, Student's t and chi-square, with CDFs, survival functions and quantiles. Pure
// numerics, no dependencies, tested against reference values (tests/ab-stats.test.ts).
//
// Everything is built on two special functions, each evaluated where its expansion converges
// well and with the complement taken by subtraction only where that loses no precision:
//   - the regularized incomplete gamma P(a, x) / Q(a, x): power series for x < a + 1, a
//     continued fraction for Q beyond. erfc(x) = Q(1/2, x²), so the normal tails come straight
//     from Q and keep full relative precision far into the tails (Φ(-37) ≈ 6e-300).
//   - the regularized incomplete beta I_x(a, b): a continued fraction (modified Lentz), used on
//     whichever of x, 1 - x makes it converge fast.
// Logs of Γ use the Stirling series after shifting the argument above 15, and the difference
// lnΓ(a + b) - lnΓ(a) for large a is expanded directly, so the t distribution stays accurate
// for the huge Welch degrees of freedom of large tests. Relative accuracy is ~1e-13 or better
// for probabilities down to 1e-300 in the cases tested.

const LN_SQRT_2PI = 0.5 * Math.log(2 * Math.PI);
const EPS = 1e-16;
const TINY = 1e-300;

/** Stirling series for lnΓ(y) - [(y - ½)ln y - y + ½ln 2π]; ~3e-18 truncation error for y ≥ 15. */
function stirlingCorrection(y: number): number {
  const r = 1 / y;
  const r2 = r * r;
  return r * (1 / 12 + r2 * (-1 / 360 + r2 * (1 / 1260 + r2 * (-1 / 1680 + r2 * (1 / 1188 + r2 * (-691 / 360360))))));
}

/** ln Γ(x) for x > 0. */
export function lnGamma(x: number): number {
  if (!(x > 0) || !Number.isFinite(x)) throw new RangeError(`lnGamma: x must be a positive finite number (got ${x})`);
  // Γ(x) = Γ(x + k) / (x (x+1) ... (x+k-1)); the product stays below 15! · x, no overflow.
  let y = x;
  let product = 1;
  while (y < 15) {
    product *= y;
    y += 1;
  }
  return (y - 0.5) * Math.log(y) - y + LN_SQRT_2PI + stirlingCorrection(y) - Math.log(product);
}

/** lnΓ(a + b) - lnΓ(a) for a > 0, b ≥ 0, without the cancellation of two huge logs when a is large. */
export function lnGammaRatio(a: number, b: number): number {
  if (a < 15) return lnGamma(a + b) - lnGamma(a);
  // From the Stirling form of both terms:
  //   (a+b-½)ln(a+b) - (a-½)ln a - b = b ln a + (a+b-½) log1p(b/a) - b
  return b * Math.log(a) + (a + b - 0.5) * Math.log1p(b / a) - b + stirlingCorrection(a + b) - stirlingCorrection(a);
}

/** ln B(a, b) = lnΓ(a) + lnΓ(b) - lnΓ(a + b). */
export function lnBeta(a: number, b: number): number {
  const small = Math.min(a, b);
  const big = Math.max(a, b);
  return lnGamma(small) - lnGammaRatio(big, small);
}

// ---------------------------------------------------------------------------------------------
// Incomplete gamma

/** P(a, x) by its power series: x^a e^-x / Γ(a+1) · Σ x^n / ((a+1)…(a+n)). Best for x < a + 1. */
function gammaPSeries(a: number, x: number): number {
  let term = 1;
  let sum = 1;
  for (let n = 1; n < 100_000; n++) {
    term *= x / (a + n);
    sum += term;
    if (term < sum * EPS) break;
  }
  return Math.exp(a * Math.log(x) - x - lnGamma(a + 1)) * sum;
}

/**
 * Q(a, x) by the continued fraction
 *   Γ(a,x) = e^-x x^a · 1/(x+1-a- 1(1-a)/(x+3-a- 2(2-a)/(x+5-a- …)))
 * evaluated with the modified Lentz method. Best for x ≥ a + 1.
 */
function gammaQContinuedFraction(a: number, x: number): number {
  let b = x + 1 - a;
  let c = 1 / TINY;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i < 100_000; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < TINY) d = TINY;
    c = b + an / c;
    if (Math.abs(c) < TINY) c = TINY;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < EPS) break;
  }
  return Math.exp(a * Math.log(x) - x - lnGamma(a)) * h;
}

function checkGammaArgs(a: number, x: number): void {
  if (!(a > 0) || !Number.isFinite(a)) throw new RangeError(`incomplete gamma: a must be positive and finite (got ${a})`);
  if (!(x >= 0)) throw new RangeError(`incomplete gamma: x must be ≥ 0 (got ${x})`);
}

/** Regularized lower incomplete gamma P(a, x) = γ(a, x) / Γ(a), for a > 0, x ≥ 0. */
export function regularizedGammaP(a: number, x: number): number {
  checkGammaArgs(a, x);
  if (x === 0) return 0;
  if (x === Infinity) return 1;
  return x < a + 1 ? gammaPSeries(a, x) : 1 - gammaQContinuedFraction(a, x);
}

/** Regularized upper incomplete gamma Q(a, x) = Γ(a, x) / Γ(a) = 1 - P(a, x), for a > 0, x ≥ 0. */
export function regularizedGammaQ(a: number, x: number): number {
  checkGammaArgs(a, x);
  if (x === 0) return 1;
  if (x === Infinity) return 0;
  return x < a + 1 ? 1 - gammaPSeries(a, x) : gammaQContinuedFraction(a, x);
}

// ---------------------------------------------------------------------------------------------
// Incomplete beta

/**
 * Continued fraction of I_x(a, b) (without its prefactor x^a y^b / (a B(a,b))):
 *   1/(1+ d1/(1+ d2/(1+ …))),  d(2m+1) = -(a+m)(a+b+m)x / ((a+2m)(a+2m+1)),
 *                              d(2m)   = m(b-m)x / ((a+2m-1)(a+2m))
 * by modified Lentz. Converges fast for x < (a+1)/(a+b+2).
 */
function betaContinuedFraction(a: number, b: number, x: number): number {
  let c = 1;
  let d = 1 - ((a + b) * x) / (a + 1);
  if (Math.abs(d) < TINY) d = TINY;
  d = 1 / d;
  let h = d;
  for (let m = 1; m < 1_000_000; m++) {
    const m2 = 2 * m;
    let an = (m * (b - m) * x) / ((a + m2 - 1) * (a + m2));
    d = 1 + an * d;
    if (Math.abs(d) < TINY) d = TINY;
    c = 1 + an / c;
    if (Math.abs(c) < TINY) c = TINY;
    d = 1 / d;
    h *= d * c;
    an = (-(a + m) * (a + b + m) * x) / ((a + m2) * (a + m2 + 1));
    d = 1 + an * d;
    if (Math.abs(d) < TINY) d = TINY;
    c = 1 + an / c;
    if (Math.abs(c) < TINY) c = TINY;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < EPS) break;
  }
  return h;
}

/**
 * I_x(a, b) given x, y = 1 - x and their logs, all supplied by the caller so that none is
 * computed by a subtraction that loses precision (e.g. y = t²/(ν+t²) for the t distribution).
 */
function incompleteBeta(a: number, b: number, x: number, y: number, lnX: number, lnY: number): number {
  if (x <= 0) return 0;
  if (y <= 0) return 1;
  const lnB = lnBeta(a, b);
  if (x < (a + 1) / (a + b + 2)) {
    return (Math.exp(a * lnX + b * lnY - lnB) * betaContinuedFraction(a, b, x)) / a;
  }
  // Symmetry I_x(a, b) = 1 - I_y(b, a): the fraction converges fast on this side.
  return 1 - (Math.exp(a * lnX + b * lnY - lnB) * betaContinuedFraction(b, a, y)) / b;
}

/** Regularized incomplete beta I_x(a, b), for 0 ≤ x ≤ 1 and a, b > 0. */
export function regularizedBeta(x: number, a: number, b: number): number {
  if (!(x >= 0 && x <= 1)) throw new RangeError(`regularizedBeta: x must be in [0, 1] (got ${x})`);
  if (!(a > 0 && b > 0)) throw new RangeError(`regularizedBeta: a and b must be positive (got ${a}, ${b})`);
  const y = 1 - x;
  return incompleteBeta(a, b, x, y, Math.log(x), Math.log1p(-x));
}

// ---------------------------------------------------------------------------------------------
// Standard normal

/** Standard normal density φ(z). */
export function normalPdf(z: number): number {
  return Math.exp(-0.5 * z * z - LN_SQRT_2PI);
}

/** Standard normal CDF Φ(z); the lower tail keeps full relative precision (Φ(z) = ½Q(½, z²/2) for z < 0). */
export function normalCdf(z: number): number {
  if (Number.isNaN(z)) return NaN;
  const halfTail = 0.5 * regularizedGammaQ(0.5, 0.5 * z * z);
  return z < 0 ? halfTail : 1 - halfTail;
}

/** Upper tail 1 - Φ(z), precise for large z. */
export function normalSf(z: number): number {
  return normalCdf(-z);
}

/** Two-sided p-value of a z statistic, 2(1 - Φ(|z|)) = Q(½, z²/2). */
export function normalTwoSidedP(z: number): number {
  if (Number.isNaN(z)) return NaN;
  return regularizedGammaQ(0.5, 0.5 * z * z);
}

/**
 * Standard normal quantile Φ⁻¹(p) for 0 ≤ p ≤ 1 (±Infinity at the ends).
 * Starting point: the rational tail approximation of Abramowitz & Stegun 26.2.23 (|error| <
 * 4.5e-4), then Halley steps on the tail function until the step is at the rounding level
 * (two or three steps): cubic convergence makes the result as precise as normalCdf itself.
 */
export function normalQuantile(p: number): number {
  if (!(p >= 0 && p <= 1)) throw new RangeError(`normalQuantile: p must be in [0, 1] (got ${p})`);
  if (p === 0) return -Infinity;
  if (p === 1) return Infinity;
  if (p === 0.5) return 0;
  // Solve the upper tail S(x) = q for q = min(p, 1-p) ≤ ½, so x ≥ 0 (up to a tiny overshoot).
  const q = p < 0.5 ? p : 1 - p;
  const t = Math.sqrt(-2 * Math.log(q));
  let x = t - (2.515517 + t * (0.802853 + t * 0.010328)) / (1 + t * (1.432788 + t * (0.189269 + t * 0.001308)));
  for (let i = 0; i < 20; i++) {
    // f(x) = S(x) - q, f' = -φ(x), f'' = xφ(x)  =>  Halley: x += u / (1 - u x / 2), u = (S - q)/φ.
    const u = (normalSf(x) - q) / normalPdf(x);
    const step = u / (1 - (u * x) / 2);
    x += step;
    if (Math.abs(step) <= 1e-15 * Math.max(1, Math.abs(x))) break;
  }
  return p < 0.5 ? -x : x;
}

// ---------------------------------------------------------------------------------------------
// Student t

function checkDf(df: number, where: string): void {
  if (!(df > 0)) throw new RangeError(`${where}: degrees of freedom must be positive (got ${df})`);
}

/** Upper tail P(T > t) for t ≥ 0: ½ I_x(ν/2, ½) with x = ν/(ν+t²), 1 - x = t²/(ν+t²). */
function tUpperTail(t: number, df: number): number {
  if (t === 0) return 0.5;
  if (t === Infinity) return 0;
  if (df === Infinity) return normalSf(t);
  const t2 = t * t;
  if (!Number.isFinite(t2)) return 0;
  // ln x = -log1p(t²/ν), ln(1-x) = ln(t²/ν) - log1p(t²/ν): no subtraction from 1 anywhere.
  const r = t2 / df;
  const lnX = -Math.log1p(r);
  const lnY = Math.log(r) + lnX;
  return 0.5 * incompleteBeta(df / 2, 0.5, df / (df + t2), t2 / (df + t2), lnX, lnY);
}

/** Student t density with ν = df degrees of freedom (df may be fractional, e.g. Welch). */
export function tPdf(t: number, df: number): number {
  checkDf(df, "tPdf");
  if (df === Infinity) return normalPdf(t);
  // Γ((ν+1)/2) / (Γ(ν/2) √(νπ)) · (1 + t²/ν)^(-(ν+1)/2)
  return Math.exp(lnGammaRatio(df / 2, 0.5) - 0.5 * Math.log(df * Math.PI) - ((df + 1) / 2) * Math.log1p((t * t) / df));
}

/** Student t CDF P(T ≤ t) with ν = df > 0 degrees of freedom (Infinity gives the normal). */
export function tCdf(t: number, df: number): number {
  checkDf(df, "tCdf");
  if (Number.isNaN(t)) return NaN;
  return t < 0 ? tUpperTail(-t, df) : 1 - tUpperTail(t, df);
}

/** Upper tail P(T > t). */
export function tSf(t: number, df: number): number {
  return tCdf(-t, df);
}

/** Two-sided p-value of a t statistic, P(|T| ≥ |t|). */
export function tTwoSidedP(t: number, df: number): number {
  checkDf(df, "tTwoSidedP");
  if (Number.isNaN(t)) return NaN;
  return Math.min(1, 2 * tUpperTail(Math.abs(t), df));
}

/**
 * Student t quantile: the t with P(T ≤ t) = p. Solves ln S(t) = ln q (S the upper tail, q =
 * min(p, 1-p)) by Newton steps, which are nearly linear in log space even in heavy tails,
 * safeguarded by bisection inside a bracket [lo, hi] that always holds the root.
 */
export function tQuantile(p: number, df: number): number {
  checkDf(df, "tQuantile");
  if (!(p >= 0 && p <= 1)) throw new RangeError(`tQuantile: p must be in [0, 1] (got ${p})`);
  if (p === 0) return -Infinity;
  if (p === 1) return Infinity;
  if (p === 0.5) return 0;
  if (df === Infinity) return normalQuantile(p);
  const q = p < 0.5 ? p : 1 - p;
  const lnQ = Math.log(q);
  const g = (t: number) => Math.log(tUpperTail(t, df)) - lnQ; // decreasing, g(0) > 0
  let lo = 0;
  let hi = Math.max(1, -normalQuantile(q)); // t quantiles are beyond the normal's
  while (g(hi) > 0) {
    lo = hi;
    hi *= 2;
    if (!Number.isFinite(hi)) return p < 0.5 ? -Infinity : Infinity;
  }
  let t = Math.max(-normalQuantile(q), lo);
  if (!(t > lo && t < hi)) t = (lo + hi) / 2;
  for (let i = 0; i < 300; i++) {
    const tail = tUpperTail(t, df);
    const value = Math.log(tail) - lnQ;
    if (value > 0) lo = t;
    else hi = t;
    // d/dt ln S(t) = -f(t)/S(t)
    let next = t + (value * tail) / tPdf(t, df);
    if (!(next > lo && next < hi)) next = lo > 0 ? Math.sqrt(lo * hi) : (lo + hi) / 2;
    const done = Math.abs(next - t) <= 1e-15 * next || hi - lo <= 1e-15 * hi;
    t = next;
    if (done) break;
  }
  return p < 0.5 ? -t : t;
}

// ---------------------------------------------------------------------------------------------
// Chi-square

/** Chi-square CDF P(X ≤ x) with df > 0 degrees of freedom: P(df/2, x/2). */
export function chiSquareCdf(x: number, df: number): number {
  checkDf(df, "chiSquareCdf");
  return x <= 0 ? 0 : regularizedGammaP(df / 2, x / 2);
}

/** Chi-square survival P(X > x) with df > 0 degrees of freedom: Q(df/2, x/2), precise for tiny p-values. */
export function chiSquareSf(x: number, df: number): number {
  checkDf(df, "chiSquareSf");
  return x <= 0 ? 1 : regularizedGammaQ(df / 2, x / 2);
}
