// kafkajs over SASL/SCRAM-SHA-256 against chronik, run by internal/compat
// TestKafkaJS (sasl). Brokers from CHRONIK_BROKERS, credentials from
// CHRONIK_SASL_USER and CHRONIK_SASL_PASSWORD. It produces records,
// consumes them back by partition offsets, then checks that a wrong
// password is refused, and prints one JSON object: {Produced, Consumed,
// WrongPasswordError}.
'use strict';
const { Kafka, logLevel } = require('kafkajs');

const brokers = process.env.CHRONIK_BROKERS.split(',');
const sasl = {
  mechanism: 'scram-sha-256',
  username: process.env.CHRONIK_SASL_USER,
  password: process.env.CHRONIK_SASL_PASSWORD,
};
const topic = 'kafkajs-sasl';
const n = 20;

async function main() {
  const kafka = new Kafka({ clientId: 'chronik-sasl', brokers, sasl, logLevel: logLevel.NOTHING });
  const producer = kafka.producer();
  await producer.connect();
  const msgs = [];
  for (let i = 0; i < n; i++) msgs.push({ value: 'v' + i });
  await producer.send({ topic, messages: msgs });
  await producer.disconnect();

  const consumer = kafka.consumer({ groupId: 'kafkajs-sasl-group' });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const consumed = [];
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('consumed ' + consumed.length + ' of ' + n)), 30000);
    consumer.run({
      eachMessage: async ({ message }) => {
        consumed.push(message.value.toString());
        if (consumed.length >= n) {
          clearTimeout(timer);
          resolve();
        }
      },
    }).catch(reject);
  });
  await consumer.disconnect();

  let wrong = '';
  const bad = new Kafka({
    clientId: 'chronik-sasl-bad', brokers, logLevel: logLevel.NOTHING,
    // A fresh object: kafkajs adds an authenticationProvider holding the
    // credentials to the sasl object it is given, which a spread copies.
    sasl: { mechanism: 'scram-sha-256', username: sasl.username, password: 'wrong' }, retry: { retries: 0 },
  }).admin();
  try {
    await bad.connect();
    await bad.listTopics();
  } catch (e) {
    wrong = e.type || e.name || String(e);
  }
  await bad.disconnect().catch(() => {});
  process.stdout.write(JSON.stringify({ Produced: msgs.map((m) => m.value), Consumed: consumed.sort(), WrongPasswordError: wrong }));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
