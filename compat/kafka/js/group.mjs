// kafkajs against Ferry's Kafka listener. kafkajs speaks only the non-flexible (pre-KIP-482)
// versions of each API, so this covers the encodings the Python clients don't.
//   - admin: create a 4-partition topic, list its metadata;
//   - producer: 120 keyed records with headers, explicit partitions, in two halves;
//   - a consumer group of 2 members: the first consumes and commits the first half alone,
//     the second joins (rebalance to 2+2), the second half is shared; every record is
//     consumed exactly once across the group, offsets committed;
//   - a fresh member of the group resumes after the committed offsets and gets only new
//     records.
// Bootstrap address from $FERRY_KAFKA_BOOTSTRAP. Ends with "N passed, M failed".
import { Kafka, logLevel } from "kafkajs";

process.env.KAFKAJS_NO_PARTITIONER_WARNING = "1";
const bootstrap = process.env.FERRY_KAFKA_BOOTSTRAP || "127.0.0.1:9092";
const verbose = !!process.env.FERRY_KAFKA_DEBUG;
const suffix = Math.random().toString(16).slice(2, 10);
const topic = `kjs-${suffix}`;
const groupId = `kjsg-${suffix}`;
const PARTITIONS = 4;
const FIRST = 120;
const SECOND = 20;

const kafka = new Kafka({
  clientId: "ferry-compat-kafkajs",
  brokers: [bootstrap],
  connectionTimeout: 3000,
  requestTimeout: 10000,
  retry: { retries: 3, initialRetryTime: 100, maxRetryTime: 1000 },
  logLevel: verbose ? logLevel.DEBUG : logLevel.ERROR,
  // Errors go to stderr, except the expected "group is rebalancing" heartbeat answers.
  logCreator:
    () =>
    ({ namespace, level, log }) => {
      const { message, ...extra } = log;
      if (!verbose && /rebalanc/i.test(`${extra.error || ""}`)) return;
      console.error(`[kafkajs ${namespace}] ${message} ${JSON.stringify(extra)}`);
    },
});

let passed = 0;
let failed = 0;
function check(name, ok, detail = "") {
  if (ok) {
    passed++;
    console.log(`ok   ${name}`);
  } else {
    failed++;
    console.log(`FAIL ${name}${detail ? ": " + detail : ""}`);
  }
}

async function waitFor(what, cond, timeoutMs = 20000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const consumerOptions = {
  groupId,
  sessionTimeout: 6000,
  rebalanceTimeout: 10000,
  heartbeatInterval: 1000,
  maxWaitTimeInMs: 100,
  retry: { retries: 3, initialRetryTime: 100, maxRetryTime: 1000 },
};

// A group member that records what it consumes and its latest assignment.
function member(name) {
  const consumer = kafka.consumer(consumerOptions);
  const state = { name, consumer, records: [], assignment: null, joins: 0, crashed: null };
  consumer.on(consumer.events.GROUP_JOIN, (e) => {
    state.joins++;
    state.assignment = (e.payload.memberAssignment[topic] || []).slice().sort((a, b) => a - b);
  });
  consumer.on(consumer.events.CRASH, (e) => {
    state.crashed = e.payload.error;
  });
  state.start = async () => {
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ partition, message }) => {
        state.records.push({
          partition,
          offset: Number(message.offset),
          key: message.key ? message.key.toString() : null,
          value: message.value ? message.value.toString() : null,
          headers: Object.fromEntries(
            Object.entries(message.headers || {}).map(([k, v]) => [k, v ? v.toString() : null])
          ),
        });
      },
    });
  };
  return state;
}

const admin = kafka.admin();
const producer = kafka.producer({ allowAutoTopicCreation: false });
const members = [];

async function main() {
  await admin.connect();
  const created = await admin.createTopics({
    topics: [{ topic, numPartitions: PARTITIONS, replicationFactor: 1 }],
    waitForLeaders: true,
  });
  check("admin createTopics", created === true, `returned ${created}`);
  const md = await admin.fetchTopicMetadata({ topics: [topic] });
  const parts = md.topics[0].partitions.map((p) => p.partitionId).sort();
  check("metadata lists 4 partitions", JSON.stringify(parts) === "[0,1,2,3]", JSON.stringify(parts));

  await producer.connect();
  const messages = [];
  for (let i = 0; i < FIRST; i++) {
    messages.push({ key: `k${i}`, value: `v${i}`, partition: i % PARTITIONS, headers: { seq: String(i) } });
  }
  const half = FIRST / 2;
  const res = await producer.send({ topic, acks: -1, messages: messages.slice(0, half) });
  check("produce reply covers 4 partitions", res.length === PARTITIONS && res.every((r) => r.errorCode === 0), JSON.stringify(res));

  const groupOffsets = async () => {
    const committed = await admin.fetchOffsets({ groupId, topics: [topic] });
    return committed[0].partitions.map((p) => [p.partition, Number(p.offset)]).sort((x, y) => x[0] - y[0]);
  };
  const ends = (n) => JSON.stringify([0, 1, 2, 3].map((p) => [p, n]));

  // The first member alone: owns all 4 partitions, consumes and commits the first half.
  const a = member("a");
  const b = member("b");
  members.push(a, b);
  await a.start();
  await waitFor("member a to own 4 partitions", () => a.assignment && a.assignment.length === PARTITIONS);
  check("the first member owns all 4 partitions", a.assignment.length === PARTITIONS);
  await waitFor("member a to consume the first half", () => a.records.length >= half || a.crashed, 30000);
  let co = [];
  await waitFor(
    "the first half committed",
    async () => {
      co = await groupOffsets();
      return JSON.stringify(co) === ends(half / PARTITIONS);
    },
    15000
  ).catch(() => {});
  check("the first member commits as it consumes", JSON.stringify(co) === ends(half / PARTITIONS), JSON.stringify(co));

  // The second member joins: both settle on 2 + 2.
  await b.start();
  let settledOk = true;
  try {
    await waitFor(
      "a 2+2 assignment",
      () =>
        !a.crashed &&
        !b.crashed &&
        a.assignment &&
        b.assignment &&
        a.assignment.length === 2 &&
        b.assignment.length === 2 &&
        new Set([...a.assignment, ...b.assignment]).size === 4,
      30000
    );
  } catch (e) {
    settledOk = false;
  }
  check(
    "rebalance to 2+2 after the second member joins",
    settledOk,
    `a=${JSON.stringify(a.assignment)} b=${JSON.stringify(b.assignment)} crash=${a.crashed || b.crashed}`
  );

  const res2 = await producer.send({ topic, acks: -1, messages: messages.slice(half) });
  check("second produce", res2.every((r) => r.errorCode === 0), JSON.stringify(res2));
  const offsets = await admin.fetchTopicOffsets(topic);
  const highs = offsets.map((o) => [o.partition, Number(o.high)]).sort((x, y) => x[0] - y[0]);
  check("fetchTopicOffsets: 30 per partition", JSON.stringify(highs) === ends(FIRST / PARTITIONS), JSON.stringify(highs));
  await waitFor("every record consumed", () => a.records.length + b.records.length >= FIRST || a.crashed || b.crashed, 30000).catch(
    () => {}
  );
  const all = [...a.records, ...b.records];
  const seen = new Map();
  for (const r of all) {
    const k = `${r.partition}:${r.offset}`;
    seen.set(k, (seen.get(k) || 0) + 1);
  }
  const dupes = [...seen.entries()].filter(([, n]) => n > 1);
  const missing = [];
  for (let i = 0; i < FIRST; i++) if (!seen.has(`${i % PARTITIONS}:${Math.floor(i / PARTITIONS)}`)) missing.push(i);
  check(
    "every record consumed exactly once across the group",
    dupes.length === 0 && missing.length === 0 && all.length === FIRST,
    `total=${all.length} dupes=${JSON.stringify(dupes.slice(0, 5))} missing=${JSON.stringify(missing.slice(0, 5))}`
  );
  const bParts = new Set(b.records.map((r) => r.partition));
  check(
    "the second member consumed its own partitions",
    b.records.length > 0 && [...bParts].every((p) => (b.assignment || []).includes(p)),
    `b=${b.records.length} parts=${JSON.stringify([...bParts])}`
  );
  const contentOk = all.every((r) => {
    const i = r.offset * PARTITIONS + r.partition;
    return r.key === `k${i}` && r.value === `v${i}` && r.headers.seq === String(i);
  });
  check("keys, values and headers intact", contentOk);

  // kafkajs commits each resolved batch; stopping flushes the rest. Then check the group's offsets.
  await a.consumer.disconnect();
  await b.consumer.disconnect();
  members.length = 0;
  co = await groupOffsets();
  check("committed offsets are the partition ends", JSON.stringify(co) === ends(FIRST / PARTITIONS), JSON.stringify(co));

  // A fresh member resumes after the commits: only the new records.
  const newer = [];
  for (let i = 0; i < SECOND; i++) newer.push({ key: `n${i}`, value: `new${i}`, partition: i % PARTITIONS });
  await producer.send({ topic, acks: -1, messages: newer });
  const c = member("c");
  members.push(c);
  await c.start();
  let resumed = true;
  await waitFor("the new records", () => c.records.length >= SECOND || c.crashed, 30000).catch(() => {
    resumed = false;
  });
  const got = c.records.map((r) => `${r.partition}:${r.offset}:${r.value}`).sort();
  const want = newer.map((m, i) => `${m.partition}:${30 + Math.floor(i / PARTITIONS)}:${m.value}`).sort();
  check(
    "a fresh member resumes after the committed offsets",
    resumed && JSON.stringify(got) === JSON.stringify(want),
    `got ${c.records.length}: ${JSON.stringify(got.slice(0, 6))}`
  );

  const desc = await admin.describeGroups([groupId]);
  const g = desc.groups[0];
  check("describeGroups shows the live member", g.state === "Stable" && g.members.length === 1, `${g.state} ${g.members.length}`);

  await c.consumer.disconnect();
  members.length = 0;
  await admin.deleteTopics({ topics: [topic] });
  const listed = await admin.listTopics();
  check("admin deleteTopics", !listed.includes(topic));
}

try {
  await main();
} catch (e) {
  failed++;
  console.log(`FAIL unexpected error: ${e && e.stack ? e.stack : e}`);
} finally {
  for (const m of members) await m.consumer.disconnect().catch(() => {});
  await producer.disconnect().catch(() => {});
  await admin.disconnect().catch(() => {});
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
