// aws-sdk-js v3 against Ferry's SQS endpoint. The SDK checks the body MD5 of every send,
// batch send and receive (its default `md5` option) and throws on a mismatch; this script also
// checks MD5OfMessageAttributes against its own implementation of SQS's digest.
// Prints one line per check and a closing "N passed, N failed"; exits non-zero on a failure.

import {
  SQSClient,
  CreateQueueCommand,
  GetQueueAttributesCommand,
  SendMessageCommand,
  SendMessageBatchCommand,
  ReceiveMessageCommand,
  DeleteMessageCommand,
  DeleteMessageBatchCommand,
  ChangeMessageVisibilityBatchCommand,
  DeleteQueueCommand,
  GetQueueUrlCommand,
} from "@aws-sdk/client-sqs";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";

/** SQS's digest of message attributes, computed here independently of the server. */
function md5OfAttributes(attributes) {
  const parts = [];
  const withLength = (bytes) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(bytes.length);
    parts.push(len, Buffer.from(bytes));
  };
  for (const name of Object.keys(attributes).sort()) {
    const a = attributes[name];
    withLength(Buffer.from(name, "utf8"));
    withLength(Buffer.from(a.DataType, "utf8"));
    if (a.BinaryValue !== undefined) {
      parts.push(Buffer.from([2]));
      withLength(Buffer.from(a.BinaryValue));
    } else {
      parts.push(Buffer.from([1]));
      withLength(Buffer.from(a.StringValue, "utf8"));
    }
  }
  return createHash("md5").update(Buffer.concat(parts)).digest("hex");
}

const endpoint = process.env.FERRY_SQS_ENDPOINT ?? "http://127.0.0.1:7480";
const sqs = new SQSClient({
  endpoint,
  region: "us-east-1",
  credentials: { accessKeyId: "test", secretAccessKey: "test" },
  maxAttempts: 1,
});
const run = Math.random().toString(16).slice(2, 10);
let passed = 0;
let failed = 0;

async function check(name, fn) {
  try {
    await fn();
    passed += 1;
    console.log(`ok   ${name}`);
  } catch (e) {
    failed += 1;
    console.log(`FAIL ${name}: ${e?.name ?? ""} ${e?.message ?? e}`);
  }
}

const attributes = {
  text: { DataType: "String", StringValue: "héllo ✓" },
  count: { DataType: "Number", StringValue: "42" },
  ratio: { DataType: "Number.float", StringValue: "-0.5" },
  blob: { DataType: "Binary.raw", BinaryValue: new Uint8Array([0, 1, 2, 254, 255]) },
};

async function receiveAll(QueueUrl, want, extra = {}) {
  const got = [];
  const deadline = Date.now() + 10000;
  while (got.length < want && Date.now() < deadline) {
    const r = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1, ...extra }),
    );
    got.push(...(r.Messages ?? []));
  }
  return got;
}

let queue;
await check("create queue and find it", async () => {
  const r = await sqs.send(new CreateQueueCommand({ QueueName: `js-${run}` }));
  queue = r.QueueUrl;
  assert.match(queue, /\/000000000000\/js-/);
  const again = await sqs.send(new GetQueueUrlCommand({ QueueName: `js-${run}` }));
  assert.equal(again.QueueUrl, queue);
});

await check("send with typed attributes (MD5s verified by the SDK)", async () => {
  const r = await sqs.send(
    new SendMessageCommand({ QueueUrl: queue, MessageBody: "hello ✓\r\nworld", MessageAttributes: attributes }),
  );
  assert.ok(r.MessageId && r.MD5OfMessageBody);
  assert.equal(r.MD5OfMessageAttributes, md5OfAttributes(attributes));
});

await check("receive it back exactly (MD5s verified by the SDK)", async () => {
  const [m] = await receiveAll(queue, 1, { MessageAttributeNames: ["All"], MessageSystemAttributeNames: ["All"] });
  assert.equal(m.Body, "hello ✓\r\nworld");
  assert.equal(m.MessageAttributes.count.StringValue, "42");
  assert.equal(m.MessageAttributes.ratio.DataType, "Number.float");
  assert.deepEqual([...m.MessageAttributes.blob.BinaryValue], [0, 1, 2, 254, 255]);
  assert.equal(m.Attributes.ApproximateReceiveCount, "1");
  assert.equal(m.MD5OfMessageAttributes, md5OfAttributes(m.MessageAttributes));
  assert.equal(m.MD5OfMessageAttributes, md5OfAttributes(attributes));
  await sqs.send(new DeleteMessageCommand({ QueueUrl: queue, ReceiptHandle: m.ReceiptHandle }));
});

await check("batch send, receive, change visibility, delete", async () => {
  const entries = Array.from({ length: 10 }, (_, i) => ({
    Id: `m${i}`,
    MessageBody: `batch ${i}`,
    MessageAttributes: i % 2 ? { n: { DataType: "Number", StringValue: String(i) } } : undefined,
  }));
  const sent = await sqs.send(new SendMessageBatchCommand({ QueueUrl: queue, Entries: entries }));
  assert.equal(sent.Successful.length, 10);
  assert.equal((sent.Failed ?? []).length, 0);
  for (const s of sent.Successful) {
    const e = entries.find((x) => x.Id === s.Id);
    if (e.MessageAttributes) assert.equal(s.MD5OfMessageAttributes, md5OfAttributes(e.MessageAttributes));
  }
  const got = await receiveAll(queue, 10, { MessageAttributeNames: ["All"] });
  assert.equal(got.length, 10);
  const vis = await sqs.send(
    new ChangeMessageVisibilityBatchCommand({
      QueueUrl: queue,
      Entries: got.map((m, i) => ({ Id: `v${i}`, ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: 60 })),
    }),
  );
  assert.equal(vis.Successful.length, 10);
  const del = await sqs.send(
    new DeleteMessageBatchCommand({
      QueueUrl: queue,
      Entries: got.map((m, i) => ({ Id: `d${i}`, ReceiptHandle: m.ReceiptHandle })),
    }),
  );
  assert.equal(del.Successful.length, 10);
});

await check("batch with a partial failure", async () => {
  const r = await sqs.send(
    new SendMessageBatchCommand({
      QueueUrl: queue,
      Entries: [
        { Id: "good", MessageBody: "fine" },
        { Id: "bad", MessageBody: "late", DelaySeconds: 9999 },
      ],
    }),
  );
  assert.deepEqual(r.Successful.map((s) => s.Id), ["good"]);
  assert.equal(r.Failed[0].Id, "bad");
  assert.equal(r.Failed[0].Code, "InvalidParameterValue");
});

let fifo;
await check("FIFO: order within a group, dedup, sequence numbers", async () => {
  const r = await sqs.send(
    new CreateQueueCommand({
      QueueName: `js-${run}.fifo`,
      Attributes: { FifoQueue: "true", ContentBasedDeduplication: "true" },
    }),
  );
  fifo = r.QueueUrl;
  const seqs = [];
  for (let i = 0; i < 5; i++) {
    const s = await sqs.send(new SendMessageCommand({ QueueUrl: fifo, MessageBody: `f${i}`, MessageGroupId: "g" }));
    seqs.push(BigInt(s.SequenceNumber));
  }
  const dup = await sqs.send(new SendMessageCommand({ QueueUrl: fifo, MessageBody: "f0", MessageGroupId: "g" }));
  assert.ok(dup.MessageId);
  assert.deepEqual([...seqs].sort((a, b) => (a < b ? -1 : 1)), seqs);
  const got = await receiveAll(fifo, 5, { MessageSystemAttributeNames: ["All"] });
  assert.deepEqual(got.map((m) => m.Body), ["f0", "f1", "f2", "f3", "f4"]);
  assert.equal(got[0].Attributes.MessageGroupId, "g");
  assert.equal(BigInt(got[0].Attributes.SequenceNumber), seqs[0]);
  const attrs = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: fifo, AttributeNames: ["All"] }));
  assert.equal(attrs.Attributes.ApproximateNumberOfMessagesNotVisible, "5");
});

await check("a wrong body digest is caught by the SDK (the check is live)", async () => {
  const strict = new SQSClient({
    endpoint,
    region: "us-east-1",
    credentials: { accessKeyId: "test", secretAccessKey: "test" },
    maxAttempts: 1,
    md5: class {
      update() {}
      async digest() {
        return new Uint8Array(16);
      }
    },
  });
  await assert.rejects(strict.send(new SendMessageCommand({ QueueUrl: queue, MessageBody: "x" })));
});

await check("errors have SQS names", async () => {
  await assert.rejects(
    sqs.send(new GetQueueUrlCommand({ QueueName: `missing-${run}` })),
    (e) => e.name === "QueueDoesNotExist" || e.Code === "AWS.SimpleQueueService.NonExistentQueue",
  );
});

await check("delete queues", async () => {
  await sqs.send(new DeleteQueueCommand({ QueueUrl: queue }));
  await sqs.send(new DeleteQueueCommand({ QueueUrl: fifo }));
});

console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
