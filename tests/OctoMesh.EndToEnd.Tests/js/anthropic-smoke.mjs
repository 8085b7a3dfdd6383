// The official `@anthropic-ai/sdk` against a running OctoMesh gateway's /v1/messages: text, streams, tools, errors.
// Usage: node anthropic-smoke.mjs http://127.0.0.1:PORT MODEL
import assert from 'node:assert/strict';
import Anthropic from '@anthropic-ai/sdk';

const client = new Anthropic({ baseURL: process.argv[2], apiKey: process.env.OCTOMESH_KEY ?? 'unused', maxRetries: 0 });
const model = process.argv[3];
const ask = [{ role: 'user', content: 'What is 19 + 23?' }];

async function check(name, body) {
  await body();
  console.log(`ok ${name}`);
}

await check('message', async () => {
  const message = await client.messages.create({ model, max_tokens: 200, system: 'Be brief.', messages: ask });
  assert.equal(message.type, 'message');
  assert.equal(message.role, 'assistant');
  assert.equal(message.stop_reason, 'end_turn');
  assert.match(message.content[0].text, /^The answer is -?\d+\./);
  assert.ok(message.usage.input_tokens > 0 && message.usage.output_tokens > 0);
});

await check('stream', async () => {
  const whole = await client.messages.create({ model, max_tokens: 200, messages: ask });
  let text = '';
  const stream = client.messages.stream({ model, max_tokens: 200, messages: ask });
  stream.on('text', (delta) => { text += delta; });
  const final = await stream.finalMessage();
  assert.equal(text, whole.content[0].text);
  assert.equal(final.content[0].text, whole.content[0].text);
  assert.equal(final.stop_reason, 'end_turn');
  assert.equal(final.usage.output_tokens, whole.usage.output_tokens);
  assert.equal(final.usage.input_tokens, whole.usage.input_tokens);
});

await check('tools', async () => {
  const tools = [{ name: 'get_weather', description: 'Weather for a city', input_schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } }];
  const messages = [{ role: 'user', content: 'Weather in Oslo?' }];
  const message = await client.messages.create({ model, max_tokens: 200, messages, tools });
  assert.equal(message.stop_reason, 'tool_use');
  const use = message.content.find((b) => b.type === 'tool_use');
  assert.equal(use.name, 'get_weather');
  assert.equal(typeof use.input.city, 'string');

  const final = await client.messages.stream({ model, max_tokens: 200, messages, tools }).finalMessage();
  assert.deepEqual(final.content.find((b) => b.type === 'tool_use').input, use.input);

  const after = await client.messages.create({
    model, max_tokens: 200, tools,
    messages: [...messages, { role: 'assistant', content: message.content }, { role: 'user', content: [{ type: 'tool_result', tool_use_id: use.id, content: '3 C' }] }],
  });
  assert.equal(after.stop_reason, 'end_turn');
});

await check('errors', async () => {
  await assert.rejects(client.messages.create({ model: 'no-such-model', max_tokens: 10, messages: ask }),
    (e) => e instanceof Anthropic.NotFoundError && e.error.error.type === 'not_found_error');
  await assert.rejects(client.messages.create({ model, max_tokens: 10, messages: ask }, { headers: { 'x-sim-fault': '429', 'x-sim-retry-after': '3' } }),
    (e) => e instanceof Anthropic.RateLimitError && e.headers.get('retry-after') === '3');
});
