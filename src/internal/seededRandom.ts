/**
 * Small deterministic hashing and randomness for simulations: the same seed gives the same
 * sequence on every run and machine (unlike `Math.random`), which is what makes the simulated
 * provider and the fake provider's fault mixes reproducible.
 */

/** FNV-1a, 32 bits: a stable hash of text across runs and machines. */
export const fnv1a = (text: string, seed = 0x811C9DC5): number => {
  let h = seed >>> 0
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i)
    h = Math.imul(h, 0x01000193) >>> 0
  }
  return h >>> 0
}

/** mulberry32: a 32-bit seeded PRNG giving numbers in [0, 1). */
export const seededRandom = (seed: number): () => number => {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6D2B79F5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
