// Kafka, process faults: three members of a group run a stateful windowed pipeline
// (test/fixtures/eos-pipeline.ts: tumbling windows and keyed state) exactly-once with the
// changelog store, while input keeps coming. Each member is SIGKILLed again and again and started
// again at once: at random moments from outside (while starting, while working), inside its
// commits (the transaction open: records sent, offsets added, or its end requested) and inside
// its state restores (reading the changelog, before the offsets, loading a snapshot). Then one is
// killed inside a commit, its transaction open, and never comes back: the others take its
// partitions over once its session times out and the broker has aborted that transaction. The
// committed output must be the uninterrupted run's, exactly.
import {
  appendEvents,
  eosEvents,
  expectedOutput,
  produceEvents,
  readCommitted,
  scenario,
  waitForProgress,
} from "../kafka/workers.js";
import {
  countAgainst,
  random,
  result,
  type ScenarioContext,
  type ScenarioResult,
  sampleDifferences,
  sleep,
} from "./common.js";
import {
  type CommitStage,
  type Death,
  diedIn,
  killMember,
  lastLines,
  type Member,
  type RestoreStage,
  startMember,
  stopMember,
} from "./members.js";

const PARTITIONS = 6;
const MEMBERS = 3;
const OUT_OF_ORDERNESS = 1_000;
/** Short, so that a killed member's partitions move on soon (each kill stalls the group that long). */
const SESSION_TIMEOUT = 3_000;
const COMMIT_STAGES: CommitStage[] = ["sent", "offsets", "ending"];
const RESTORE_STAGES: RestoreStage[] = ["settle", "offsets", "load"];

export async function kafkaProcessFaults(ctx: ScenarioContext): Promise<ScenarioResult> {
  const startedAt = Date.now();
  const seed = Number(process.env.RIVULET_CHAOS_SEED ?? Date.now() % 100_000);
  const rnd = random(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const target = ctx.quick ? 20 : 40;
  const { kafka, input, output, group, env } = scenario(ctx.bootstrap, "chaos-kill", {
    outOfOrderness: OUT_OF_ORDERNESS,
    tasks: "per-partition",
  });
  // A prefix of these goes in: as much as is fed while the members are being killed.
  const events = eosEvents(ctx.quick ? 400_000 : 1_200_000);
  let fed = 20_000;
  await produceEvents(kafka, input, events.slice(0, fed), PARTITIONS);

  const faults = { sigkill: 0, inCommit: 0, inRestore: 0, neverRestarted: 0 };
  const where: Record<string, number> = {};
  const selfExits: string[] = [];
  const problems: string[] = [];
  const logs: string[] = [];
  const members: (Member | undefined)[] = [];
  const killed = new WeakSet<Member>();
  const memberEnv = (i: number, extra: Record<string, string> = {}) =>
    env(i, { RIVULET_MAX_BATCH: "200", RIVULET_SESSION_TIMEOUT: String(SESSION_TIMEOUT), ...extra });
  const note = (m: Member, death: Death) => {
    faults.sigkill++;
    if (death.where === "commit") faults.inCommit++;
    if (death.where === "restore") faults.inRestore++;
    const k = `${death.where}:${death.stage}`;
    where[k] = (where[k] ?? 0) + 1;
    logs.push(`--- member ${m.instance} (killed in ${k}):\n${lastLines(m.output(), 12)}`);
    ctx.log(`kafka-sigkill: kill ${faults.sigkill}/${target}: member ${m.instance} died in ${k}`);
  };
  /** SIGKILL from outside, now. */
  const kill = async (m: Member) => {
    killed.add(m);
    await killMember(m);
    note(m, diedIn(m));
  };
  /** Waits until `m` exits or `ms` pass; whether it exited. */
  const exitWithin = (m: Member, ms: number) =>
    Promise.race([m.exited.then(() => true), sleep(ms).then(() => false)]);

  // Input keeps coming while the members are killed, in order (none of it is late).
  let feeding = true;
  const feeder = (async () => {
    while (feeding && fed < events.length) {
      const n = Math.min(1_000, events.length - fed);
      await appendEvents(kafka, input, events.slice(fed, fed + n));
      fed += n;
      await sleep(400);
    }
  })();

  let killing = true;
  /**
   * One member's life, again and again: started (now and then set to die inside its first
   * restore), then killed at a random moment, or inside its next commit; a member that exits
   * by itself is noted and started again, as a supervisor would.
   */
  const slot = async (i: number, first: Member) => {
    let restoreStage: RestoreStage | undefined;
    let m: Member | undefined = first;
    while (killing) {
      m ??= startMember(memberEnv(i, restoreStage ? { RIVULET_DIE_IN_RESTORE: restoreStage } : {}));
      members[i] = m;
      const aimedAtRestore = restoreStage !== undefined;
      restoreStage = undefined;
      if (aimedAtRestore) {
        // It dies in its first restore, once the group has given it partitions.
        if (await exitWithin(m, 60_000)) {
          killed.add(m);
          note(m, diedIn(m));
          m = undefined;
          continue;
        }
      }
      // A random moment from its start: while starting, joining, restoring or working.
      const life = 1_500 + rnd() * 4_000;
      const aimAtCommit = rnd() < 0.4;
      if (await exitWithin(m, aimAtCommit ? Math.max(life, 3_000) : life)) {
        if (!killed.has(m)) selfExits.push(`member ${i} (${m.child.exitCode}): ${lastLines(m.output(), 8)}`);
        m = undefined;
        continue;
      }
      if (!killing) break;
      if (aimAtCommit) {
        killed.add(m);
        m.dieInCommit(pick(COMMIT_STAGES));
        if (await exitWithin(m, 20_000)) note(m, diedIn(m));
        else await kill(m); // it did not commit in 20 s: killed where it is
      } else await kill(m);
      m = undefined;
      if (faults.sigkill >= target) killing = false;
      if (rnd() < 0.35) restoreStage = pick(RESTORE_STAGES);
    }
  };

  try {
    for (let i = 0; i < MEMBERS; i++) members.push(startMember(memberEnv(i)));
    await Promise.all(members.map((m) => m!.ready));
    await waitForProgress(kafka, group, input, 0.05, 120_000);
    ctx.log(`kafka-sigkill: 3 members working (seed ${seed}); ${target} kills to come`);
    await Promise.all(members.map((m, i) => slot(i, m!)));

    // The last kill: inside a commit, its transaction open, and never started again. Its
    // partitions move to the others once its session times out; the broker aborts its
    // transaction after the producers' transaction timeout.
    const dead = Math.floor(rnd() * MEMBERS);
    for (let i = 0; i < MEMBERS; i++) if (!members[i]?.alive()) members[i] = startMember(memberEnv(i));
    await Promise.all(members.map((m) => m!.ready));
    const victim = members[dead]!;
    await victim.next(/^progress \d+ [1-9]/, 60_000).catch(() => {});
    killed.add(victim);
    victim.dieInCommit(pick(["sent", "offsets"] as const));
    if (!(await exitWithin(victim, 30_000))) await killMember(victim);
    const death = diedIn(victim);
    note(victim, death);
    faults.neverRestarted++;
    if (death.where !== "commit" || death.stage === "ending")
      problems.push(
        `the member left dead died in ${death.where}:${death.stage}, not with its transaction open`,
      );
    ctx.log(`kafka-sigkill: member ${dead} died in ${death.where}:${death.stage} and stays dead`);

    await sleep(2_000);
    feeding = false;
    await feeder;
    const total = fed;
    const alive = members.filter((_, i) => i !== dead) as Member[];
    const catchUpFrom = Date.now();
    await waitForProgress(kafka, group, input, 1, 240_000).catch((e) => {
      throw new Error(`${e}\n${alive.map((m) => lastLines(m.output(), 30)).join("\n---\n")}`);
    });
    const catchUpSeconds = (Date.now() - catchUpFrom) / 1_000;
    for (const m of alive) killed.add(m);
    const codes = await Promise.all(alive.map((m) => stopMember(m)));
    if (codes.some((c) => c !== 0)) problems.push(`survivors stopped with ${codes.join(", ")}`);
    const late = alive.map((m) => JSON.parse(/^done (.*)$/m.exec(m.output())?.[1] ?? "{}").late);
    if (late.some((n) => n !== 0)) problems.push(`records counted late on a takeover: ${late.join(", ")}`);
    const drainer = startMember(memberEnv(9, { RIVULET_DRAIN: "1" }));
    if ((await drainer.exited) !== 0) problems.push(`the draining member failed:\n${drainer.output()}`);
    const expected = await expectedOutput(
      events.slice(0, total),
      PARTITIONS,
      OUT_OF_ORDERNESS,
      "per-partition",
    );
    const got = await readCommitted(kafka, output, expected.length);
    const counted = countAgainst(expected, got);
    if (counted.lost || counted.duplicated || counted.unexpected)
      problems.push(...sampleDifferences(expected, got));
    if (faults.sigkill < 20) problems.push(`only ${faults.sigkill} SIGKILLs`);
    if (faults.inCommit === 0) problems.push("no kill landed inside a commit");
    if (faults.inRestore === 0) problems.push("no kill landed inside a restore");
    if (selfExits.length > 0)
      problems.push(`${selfExits.length} members exited by themselves:\n${selfExits.join("\n---\n")}`);
    if (problems.length > 0) problems.push(`last kills:\n${logs.slice(-3).join("\n")}`);
    return result({
      scenario: "kafka-sigkill",
      runtime: "node-kafka",
      guarantee: "exactly-once",
      in: total,
      counted,
      faults,
      startedAt,
      problems,
      details: {
        seed,
        members: MEMBERS,
        partitions: PARTITIONS,
        sessionTimeoutMs: SESSION_TIMEOUT,
        pipeline: "tumbling(2 s) count+sum and a keyed valueState, per-partition tasks, KafkaChangelogStore",
        killedIn: where,
        catchUpSeconds,
      },
    });
  } finally {
    killing = false;
    feeding = false;
    for (const m of members) {
      if (!m) continue;
      killed.add(m);
      await killMember(m);
    }
    await feeder.catch(() => {});
  }
}
