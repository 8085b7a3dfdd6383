// The official `openai` npm SDK against a running OctoMesh gateway: chat, streams, tools, embeddings, errors.
// Usage: node openai-smoke.mjs http://127.0.0.1:PORT/v1 MODEL UPSTREAM_MODEL
import assert from 'node:assert/strict';
import OpenAI from 'openai';

const client = new OpenAI({ baseURL: process.argv[2], apiKey: process.env.OCTOMESH_KEY ?? 'unused', maxRetries: 0 });
const [model, upstreamModel] = [process.argv[3], process.argv[4]];
const ask = [{ role: 'user', content: 'What is 19 + 23?' }];

async function check(name, body) {
  await body();
  console.log(`ok ${name}`);
}

await check('chat', async () => {
  const completion = await client.chat.completions.create({ model, messages: ask });
  assert.equal(completion.object, 'chat.completion');
  assert.equal(completion.model, upstreamModel);
  assert.equal(completion.choices[0].finish_reason, 'stop');
  assert.match(completion.choices[0].message.content, /^The answer is -?\d+\./);
  assert.ok(completion.usage.completion_tokens > 0);
});

await check('stream', async () => {
  const whole = await client.chat.completions.create({ model, messages: ask });
  let text = '';
  let usage = null;
  const stream = await client.chat.completions.create({ model, messages: ask, stream: true, stream_options: { include_usage: true } });
  for await (const chunk of stream) {
    text += chunk.choices[0]?.delta?.content ?? '';
    usage = chunk.usage ?? usage;
  }
  assert.equal(text, whole.choices[0].message.content);
  assert.deepEqual(usage, whole.usage);

  // Without include_usage the extra chunk the gateway asked for is not seen.
  const plain = await client.chat.completions.create({ model, messages: ask, stream: true });
  for await (const chunk of plain) {
    assert.ok(chunk.choices.length > 0, 'no usage-only chunk');
  }
});

await check('tools', async () => {
  const tools = [{
    type: 'function',
    function: {
      name: 'get_weather',
      parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
    },
  }];
  const messages = [{ role: 'user', content: 'Weather in Oslo?' }];
  const completion = await client.chat.completions.create({ model, messages, tools });
  const call = completion.choices[0].message.tool_calls[0];
  assert.equal(completion.choices[0].finish_reason, 'tool_calls');
  assert.equal(call.function.name, 'get_weather');
  assert.ok('city' in JSON.parse(call.function.arguments));

  const runner = client.chat.completions.stream({ model, messages, tools });
  const final = await runner.finalChatCompletion();
  assert.deepEqual(final.choices[0].message.tool_calls[0].function, call.function);
});

await check('embeddings', async () => {
  const response = await client.embeddings.create({ model: 'embed', input: ['the cat sat', 'on the mat'] });
  assert.equal(response.data.length, 2);
  assert.equal(response.data[0].embedding.length, 1536);
  const norm = Math.sqrt(response.data[0].embedding.reduce((s, v) => s + v * v, 0));
  assert.ok(Math.abs(norm - 1) < 1e-3);
});

await check('errors', async () => {
  await assert.rejects(client.chat.completions.create({ model: 'no-such-model', messages: ask }),
    (e) => e instanceof OpenAI.NotFoundError && e.code === 'model_not_found');
  await assert.rejects(client.chat.completions.create({ model, messages: [] }),
    (e) => e instanceof OpenAI.BadRequestError && e.param === 'messages');
  await assert.rejects(client.chat.completions.create({ model, messages: ask }, { headers: { 'x-sim-fault': '429', 'x-sim-retry-after': '3' } }),
    (e) => e instanceof OpenAI.RateLimitError && e.headers.get('retry-after') === '3');
});
