// kafkajs transactions against chronik, run by internal/compat TestKafkaJS.
// Brokers come from CHRONIK_BROKERS (comma separated). A transactional
// producer (idempotent, one request in flight) commits a transaction
// writing to every partition, aborts one, and commits another; a
// read_committed consumer (readUncommitted: false) reads until it has every
// committed record. The aborted and the last committed transaction also
// send consumer offsets (transaction.sendOffsets: AddOffsetsToTxn and
// TxnOffsetCommit) for a group that nothing else has used, so
// __consumer_offsets may not exist yet. It prints one JSON object with
// what it saw on stdout; the Go test checks it.
'use strict';
const { Kafka, logLevel } = require('kafkajs');

const brokers = process.env.CHRONIK_BROKERS.split(',');
const topic = process.env.CHRONIK_TOPIC || 'kafkajs-txn';
const offsetsGroup = topic + '-offsets'; // committed by sendOffsets, never joined
const partitions = 3;

// recs returns n records of phase spread round-robin over the partitions.
function recs(phase, n) {
  const out = [];
  for (let i = 0; i < n; i++) {
    out.push({ partition: i % partitions, key: 'k' + i, value: `${phase}/${String(i).padStart(3, '0')}` });
  }
  return out;
}

// offsetsOf is sendOffsets' topics argument committing offset o+p on
// partition p.
function offsetsOf(o) {
  const ps = [];
  for (let p = 0; p < partitions; p++) ps.push({ partition: p, offset: String(o + p) });
  return [{ topic, partitions: ps }];
}

// runTxn sends messages in a transaction, then, given offsets, commits
// them with sendOffsets, and commits (or aborts) the transaction. A failed
// sendOffsets aborts it; runTxn returns that error, as a string.
async function runTxn(producer, messages, offsets, commit) {
  const txn = await producer.transaction();
  try {
    await txn.send({ topic, messages });
  } catch (err) {
    await txn.abort();
    throw err;
  }
  let offsetsError = '';
  if (offsets) {
    try {
      await txn.sendOffsets({ consumerGroupId: offsetsGroup, topics: offsets });
    } catch (err) {
      offsetsError = `${err.name}: ${err.message}`;
    }
  }
  if (commit && !offsetsError) await txn.commit();
  else await txn.abort();
  return offsetsError;
}

async function consumeCommitted(kafka, n) {
  const consumer = kafka.consumer({ groupId: topic + '-reader', readUncommitted: false, maxWaitTimeInMs: 100, heartbeatInterval: 1000 });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const got = [];
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`read_committed: ${got.length} of ${n} records after 30s`)), 30000);
    consumer.run({
      autoCommit: false,
      eachMessage: async ({ partition, message }) => {
        got.push({ Partition: partition, Offset: Number(message.offset), Key: message.key.toString(), Value: message.value.toString() });
        if (got.length >= n) {
          clearTimeout(timer);
          resolve();
        }
      },
    }).catch(reject);
  });
  await consumer.disconnect();
  return got;
}

async function main() {
  const kafka = new Kafka({
    clientId: 'chronik-compat-txn',
    brokers,
    logLevel: logLevel.ERROR,
    retry: { initialRetryTime: 100, retries: 10 },
  });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: partitions }], waitForLeaders: true });

  const producer = kafka.producer({
    transactionalId: topic + '-producer',
    idempotent: true,
    maxInFlightRequests: 1,
    transactionTimeout: 30000,
  });
  await producer.connect();
  const committedA = recs('commit-a', 9);
  const aborted = recs('abort', 6);
  const committedB = recs('commit-b', 6);
  await runTxn(producer, committedA, null, true);
  // sendOffsets follows a send, so that the transaction is already open:
  // kafkajs does not retry AddOffsetsToTxn's CONCURRENT_TRANSACTIONS, which
  // a coordinator answers until the markers of the previous transaction
  // are written.
  const errA = await runTxn(producer, aborted, offsetsOf(100), false);
  if (errA) throw new Error(`sendOffsets in the aborted transaction: ${errA}`);
  const errB = await runTxn(producer, committedB, offsetsOf(10), true);
  if (errB) throw new Error(`sendOffsets in the committed transaction: ${errB}`);
  await producer.disconnect();

  // The last committed records follow the aborted ones in every
  // partition, so a consumer holding all of them has passed the aborted
  // ones too.
  const got = await consumeCommitted(kafka, committedA.length + committedB.length);
  // Offsets sent in a transaction are the group's once the commit marker
  // reaches __consumer_offsets, after EndTxn is answered: poll for them.
  let groupOffsets = {};
  for (const deadline = Date.now() + 10000; ;) {
    groupOffsets = {};
    for (const t of await admin.fetchOffsets({ groupId: offsetsGroup, topics: [topic] })) {
      for (const p of t.partitions) groupOffsets[p.partition] = Number(p.offset);
    }
    if (Object.values(groupOffsets).every((o) => o >= 0) || Date.now() > deadline) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const ends = {};
  for (const o of await admin.fetchTopicOffsets(topic)) ends[o.partition] = Number(o.high);
  await admin.disconnect();
  const values = (rs) => rs.map((r) => ({ Partition: r.partition, Key: r.key, Value: r.value }));
  process.stdout.write(JSON.stringify({
    Committed: values([...committedA, ...committedB]),
    Aborted: values(aborted),
    Read: got,
    Ends: ends,
    GroupOffsets: groupOffsets,
  }));
}

main().catch((err) => {
  console.error(err && err.stack ? err.stack : err);
  process.exit(1);
});
