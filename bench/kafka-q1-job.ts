/**
 * q1 as a module `rivulet run` loads (bench/kafka.ts's `--workers` runs): the input and output
 * topics come from the environment.
 *
 *   BENCH_INPUT=in BENCH_OUTPUT=out npx rivulet run bench/kafka-q1-job.ts q1Job --brokers ... --group ...
 */
import { q1 } from "./nexmark/queries.js";

const input = process.env.BENCH_INPUT;
const output = process.env.BENCH_OUTPUT;
if (!input || !output) throw new Error("bench/kafka-q1-job.ts needs BENCH_INPUT and BENCH_OUTPUT");

export const q1Job = q1(input, output);
