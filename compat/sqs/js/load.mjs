// Load generator for Ferry's SQS endpoint (AWS JSON protocol over keep-alive HTTP, no SDK
// overhead): producers send SendMessageBatch of 10, consumers ReceiveMessage (10, long poll)
// and DeleteMessageBatch what they got. Reports messages/s for the whole send→delete run.
//
//   FERRY_SQS_ENDPOINT=http://127.0.0.1:7480 node load.mjs [messages] [producers] [consumers] [size]

import http from "node:http";

const endpoint = new URL(process.env.FERRY_SQS_ENDPOINT ?? "http://127.0.0.1:7480");
const total = Number(process.argv[2] ?? 100000);
const producers = Number(process.argv[3] ?? 4);
const consumers = Number(process.argv[4] ?? 4);
const size = Number(process.argv[5] ?? 100);
const agent = new http.Agent({ keepAlive: true, maxSockets: producers + consumers + 2 });

function call(action, input) {
  const body = JSON.stringify(input);
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: endpoint.hostname,
        port: endpoint.port,
        path: "/",
        method: "POST",
        agent,
        headers: {
          "Content-Type": "application/x-amz-json-1.0",
          "X-Amz-Target": `AmazonSQS.${action}`,
          "Content-Length": Buffer.byteLength(body),
        },
      },
      (res) => {
        const chunks = [];
        res.on("data", (c) => chunks.push(c));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString();
          if (res.statusCode !== 200) reject(new Error(`${action}: ${res.statusCode} ${text}`));
          else resolve(JSON.parse(text));
        });
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

const name = `load-${Date.now()}`;
const { QueueUrl } = await call("CreateQueue", { QueueName: name });
const payload = "x".repeat(size);
const batches = Math.ceil(total / 10);
let nextBatch = 0;
let received = 0;
const started = process.hrtime.bigint();

async function producer() {
  while (nextBatch < batches) {
    const b = nextBatch++;
    const Entries = Array.from({ length: 10 }, (_, i) => ({ Id: `e${i}`, MessageBody: `${b}-${i}-${payload}` }));
    const r = await call("SendMessageBatch", { QueueUrl, Entries });
    if (r.Failed?.length) throw new Error(JSON.stringify(r.Failed));
  }
}

async function consumer() {
  while (received < batches * 10) {
    const r = await call("ReceiveMessage", { QueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 });
    const messages = r.Messages ?? [];
    if (messages.length === 0) continue;
    received += messages.length;
    const Entries = messages.map((m, i) => ({ Id: `d${i}`, ReceiptHandle: m.ReceiptHandle }));
    const d = await call("DeleteMessageBatch", { QueueUrl, Entries });
    if (d.Failed?.length) throw new Error(JSON.stringify(d.Failed));
  }
}

await Promise.all([
  ...Array.from({ length: producers }, producer),
  ...Array.from({ length: consumers }, consumer),
]);
const seconds = Number(process.hrtime.bigint() - started) / 1e9;
await call("DeleteQueue", { QueueUrl });
const rate = Math.round((batches * 10) / seconds);
console.log(JSON.stringify({ messages: batches * 10, seconds: Number(seconds.toFixed(2)), msgs_per_s: rate, producers, consumers, size }));
agent.destroy();
