// The official SDKs read answers the gateway's cache serves: reshaped (JSON kept, stream asked for, and the
// reverse) and semantic hits. Usage: node cache-smoke.mjs http://127.0.0.1:PORT
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';

const openai = new OpenAI({ baseURL: `${process.argv[2]}/v1`, apiKey: 'unused', maxRetries: 0 });
const anthropic = new Anthropic({ baseURL: process.argv[2], apiKey: 'unused', maxRetries: 0 });
const model = 'sim-small';

async function check(name, body) {
  await body();
  console.log(`ok ${name}`);
}

await check('openai json kept, stream served', async () => {
  const messages = [{ role: 'user', content: 'List three prime numbers.' }];
  const { data: whole, response: first } = await openai.chat.completions.create({ model, messages }).withResponse();
  assert.equal(first.headers.get('x-octomesh-cache'), 'miss');
  const { data: stream, response } = await openai.chat.completions
    .create({ model, messages, stream: true, stream_options: { include_usage: true } }).withResponse();
  assert.equal(response.headers.get('x-octomesh-cache'), 'hit-exact');
  let text = '';
  let usage = null;
  for await (const chunk of stream) {
    text += chunk.choices[0]?.delta?.content ?? '';
    usage = chunk.usage ?? usage;
  }
  assert.equal(text, whole.choices[0].message.content);
  assert.deepEqual(usage, whole.usage);
});

await check('openai stream kept, json served', async () => {
  const messages = [{ role: 'user', content: 'List three even numbers.' }];
  const runner = openai.chat.completions.stream({ model, messages, stream_options: { include_usage: true } });
  const streamed = await runner.finalChatCompletion();
  const { data: whole, response } = await openai.chat.completions.create({ model, messages }).withResponse();
  assert.equal(response.headers.get('x-octomesh-cache'), 'hit-exact');
  assert.equal(whole.object, 'chat.completion');
  assert.equal(whole.choices[0].message.content, streamed.choices[0].message.content);
  assert.equal(whole.choices[0].finish_reason, 'stop');
  assert.deepEqual(whole.usage, streamed.usage);
});

await check('openai semantic hit', async () => {
  const { data: first } = await openai.chat.completions
    .create({ model, messages: [{ role: 'user', content: 'Where can I download my invoices?' }] }).withResponse();
  const { data: near, response } = await openai.chat.completions
    .create({ model, messages: [{ role: 'user', content: 'where can i download my invoice??' }] }).withResponse();
  assert.equal(response.headers.get('x-octomesh-cache'), 'hit-semantic');
  assert.ok(Number(response.headers.get('x-octomesh-cache-similarity')) > 0.66);
  assert.equal(near.choices[0].message.content, first.choices[0].message.content);
});

await check('anthropic both ways', async () => {
  const messages = [{ role: 'user', content: 'Name a large city.' }];
  const whole = await anthropic.messages.create({ model, max_tokens: 100, messages });
  const stream = anthropic.messages.stream({ model, max_tokens: 100, messages });
  let text = '';
  stream.on('text', (delta) => { text += delta; });
  const final = await stream.finalMessage();
  assert.equal(text, whole.content[0].text);
  assert.equal(final.stop_reason, whole.stop_reason);
  assert.equal(final.usage.output_tokens, whole.usage.output_tokens);

  const other = [{ role: 'user', content: 'Name a small town.' }];
  const streamed = await anthropic.messages.stream({ model, max_tokens: 100, messages: other }).finalMessage();
  const { data: rebuilt, response } = await anthropic.messages.create({ model, max_tokens: 100, messages: other }).withResponse();
  assert.equal(response.headers.get('x-octomesh-cache'), 'hit-exact');
  assert.deepEqual(rebuilt.content, streamed.content);
  assert.equal(rebuilt.stop_reason, streamed.stop_reason);
});
