// The kafkajs client cycle against chronik, run by internal/compat
// TestKafkaJS. Brokers come from CHRONIK_BROKERS (comma separated). It
// creates a topic, produces with each codec (idempotent, acks=all, keys and
// headers), lists offsets, consumes with a group that commits, then
// produces more and restarts the group, and prints one JSON object with
// everything it saw on stdout; the Go test checks it.
'use strict';
const { Kafka, CompressionTypes, CompressionCodecs, logLevel } = require('kafkajs');
const SnappyCodec = require('kafkajs-snappy');

CompressionCodecs[CompressionTypes.Snappy] = SnappyCodec;

const brokers = process.env.CHRONIK_BROKERS.split(',');
const topic = process.env.CHRONIK_TOPIC || 'kafkajs';
const group = topic + '-group';
const partitions = 3;

const codecs = [
  ['none', CompressionTypes.None],
  ['gzip', CompressionTypes.GZIP],
  ['snappy', CompressionTypes.Snappy],
];

function makeRecs(phase, codec, n) {
  const out = [];
  for (let i = 0; i < n; i++) {
    out.push({
      key: 'k' + (i % 7),
      value: `${phase}/${codec}/${String(i).padStart(5, '0')}`,
      headers: { codec: codec, seq: String(i) },
    });
  }
  return out;
}

function toRec(partition, m) {
  const headers = {};
  for (const [k, v] of Object.entries(m.headers || {})) headers[k] = v.toString();
  return {
    Partition: partition,
    Offset: Number(m.offset),
    Key: m.key ? m.key.toString() : '',
    Value: m.value.toString(),
    Headers: headers,
  };
}

async function consumeGroup(kafka, n) {
  const consumer = kafka.consumer({ groupId: group, maxWaitTimeInMs: 100, heartbeatInterval: 1000 });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const got = [];
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`group ${group}: ${got.length} of ${n} records after 30s`)), 30000);
    consumer.run({
      autoCommit: true,
      eachMessage: async ({ partition, message }) => {
        got.push(toRec(partition, message));
        if (got.length >= n) {
          clearTimeout(timer);
          resolve();
        }
      },
    }).catch(reject);
  });
  // disconnect commits the resolved offsets and leaves the group.
  await consumer.disconnect();
  return got;
}

// checkAdmin runs kafkajs's admin calls other than createTopics and
// fetchOffsets on the topic and the (now empty) group, deleting both.
async function checkAdmin(admin) {
  const cluster = await admin.describeCluster();
  if (cluster.brokers.length !== brokers.length) throw new Error(`describeCluster: ${JSON.stringify(cluster)}`);
  const topics = await admin.listTopics();
  if (!topics.includes(topic)) throw new Error(`listTopics: ${topics}`);
  const md = await admin.fetchTopicMetadata({ topics: [topic] });
  if (md.topics.length !== 1 || md.topics[0].partitions.length !== partitions) {
    throw new Error(`fetchTopicMetadata: ${JSON.stringify(md)}`);
  }
  const { ConfigResourceTypes } = require('kafkajs');
  const configs = await admin.describeConfigs({ resources: [{ type: ConfigResourceTypes.TOPIC, name: topic }], includeSynonyms: false });
  if (configs.resources.length !== 1 || configs.resources[0].errorCode !== 0 || configs.resources[0].configEntries.length === 0) {
    throw new Error(`describeConfigs: ${JSON.stringify(configs)}`);
  }
  const groups = await admin.listGroups();
  if (!groups.groups.some((g) => g.groupId === group && g.protocolType === 'consumer')) {
    throw new Error(`listGroups: ${JSON.stringify(groups)}`);
  }
  const described = await admin.describeGroups([group]);
  if (described.groups.length !== 1 || described.groups[0].state !== 'Empty') {
    throw new Error(`describeGroups: ${JSON.stringify(described)}`);
  }
  await admin.deleteGroups([group]);
  await admin.deleteTopics({ topics: [topic] });
}

async function main() {
  const kafka = new Kafka({
    clientId: 'chronik-compat',
    brokers,
    logLevel: logLevel.ERROR,
    retry: { initialRetryTime: 100, retries: 10 },
  });
  const admin = kafka.admin();
  await admin.connect();
  const created = await admin.createTopics({ topics: [{ topic, numPartitions: partitions }], waitForLeaders: true });
  if (!created) throw new Error(`createTopics ${topic}: not created`);
  const again = await admin.createTopics({ topics: [{ topic, numPartitions: partitions }] });
  if (again) throw new Error(`createTopics ${topic} again: created twice`);

  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const produced = [];
  for (const [name, codec] of codecs) {
    const recs = makeRecs('a', name, 120);
    await producer.send({ topic, acks: -1, compression: codec, messages: recs });
    produced.push(...recs);
  }

  const offsets = await admin.fetchTopicOffsets(topic);
  const ends = {};
  for (const o of offsets) {
    if (o.low !== '0') throw new Error(`partition ${o.partition}: low offset ${o.low}, want 0`);
    ends[o.partition] = Number(o.high);
  }

  const groupA = await consumeGroup(kafka, produced.length);
  const committed = {};
  for (const t of await admin.fetchOffsets({ groupId: group, topics: [topic] })) {
    for (const p of t.partitions) committed[p.partition] = Number(p.offset);
  }

  const producedB = makeRecs('b', 'gzip', 40);
  await producer.send({ topic, acks: -1, compression: CompressionTypes.GZIP, messages: producedB });
  const groupB = await consumeGroup(kafka, producedB.length);

  await producer.disconnect();
  await checkAdmin(admin);
  await admin.disconnect();
  const recs = (rs) => rs.map((r) => ({ Key: r.key, Value: r.value, Headers: r.headers }));
  process.stdout.write(JSON.stringify({
    ProducedA: recs(produced),
    ProducedB: recs(producedB),
    Ends: ends,
    Committed: committed,
    GroupA: groupA,
    GroupB: groupB,
  }));
}

main().catch((err) => {
  console.error(err && err.stack ? err.stack : err);
  process.exit(1);
});
