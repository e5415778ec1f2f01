/**
 * jstat ships no types and there is no @types/jstat on the registry: only the
 * functions src/experiments/stats.ts uses are declared here.
 */
declare module 'jstat' {
  interface JStat {
    /** Regularised incomplete beta function I_x(a, b). */
    ibeta(x: number, a: number, b: number): number;
    /** Complementary error function. */
    erfc(x: number): number;
    readonly studentt: { inv(p: number, dof: number): number };
    readonly normal: { inv(p: number, mean: number, std: number): number };
    readonly chisquare: { cdf(x: number, dof: number): number };
  }
  const jStat: JStat;
  export default jStat;
}
