// One seeded random generator for the property and load tests, so that a failing run replays with its
// seed: the queue estimator's mulberry32, not a copy of it in each test.
import { createRng } from "../../services/queue/estimator.js";

/** seededRandom returns a generator of uniform floats in [0, 1) from `seed` (mulberry32). */
export const seededRandom: (seed: number) => () => number = createRng;
