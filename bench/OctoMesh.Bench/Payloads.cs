using System.Text;

namespace OctoMesh.Bench;

/// <summary>Canned, realistic inputs: what an agent-style client sends and what a provider streams back.</summary>
internal static class Payloads
{
    /// <summary>A multi-turn chat request with a system prompt, tools and a tool result: about 4 KB.</summary>
    public static byte[] ChatRequest4K { get; } = BuildChatRequest(4096);

    /// <summary>A streamed answer of 100 content chunks plus finish, usage and [DONE], as OpenAI frames it.</summary>
    public static byte[] ChatStream100 { get; } = BuildStream(100);

    /// <summary>An Anthropic stream of 100 text deltas with its framing events, as the Messages API sends it.</summary>
    public static byte[] AnthropicStream100 { get; } = BuildAnthropicStream(100);

    /// <summary>A Gemini alt=sse stream of 100 text events, the last with finish reason and usage.</summary>
    public static byte[] GeminiStream100 { get; } = BuildGeminiStream(100);

    private static byte[] BuildGeminiStream(int events)
    {
        var sb = new StringBuilder();
        for (var i = 0; i < events; i++)
        {
            var last = i == events - 1;
            sb.Append("data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\" word").Append(i).Append("\"}],\"role\":\"model\"}")
              .Append(last ? ",\"finishReason\":\"STOP\"" : "")
              .Append(",\"index\":0}],\"usageMetadata\":{\"promptTokenCount\":812")
              .Append(last ? ",\"candidatesTokenCount\":100,\"totalTokenCount\":912" : ",\"totalTokenCount\":812")
              .Append("},\"modelVersion\":\"gemini-2.5-flash\",\"responseId\":\"mB3fZ9qXIv6N2PgP4uLJ0Qs\"}\r\n\r\n");
        }
        return Encoding.UTF8.GetBytes(sb.ToString());
    }

    private static byte[] BuildAnthropicStream(int deltas)
    {
        var sb = new StringBuilder();
        sb.Append("event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_014p7gG3wDgGV9EUtLvnow3U\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-sonnet-4\",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":812,\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":0,\"output_tokens\":1}}}\n\n");
        sb.Append("event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n");
        sb.Append("event: ping\ndata: {\"type\": \"ping\"}\n\n");
        for (var i = 0; i < deltas; i++)
        {
            sb.Append($"event: content_block_delta\ndata: {{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{{\"type\":\"text_delta\",\"text\":\" word{i}\"}}}}\n\n");
        }
        sb.Append("event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n");
        sb.Append("event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":101}}\n\n");
        sb.Append("event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n");
        return Encoding.UTF8.GetBytes(sb.ToString());
    }

    private static byte[] BuildChatRequest(int size)
    {
        var history = new StringBuilder();
        var turn = 0;
        while (history.Length < size - 1400)
        {
            history.Append($$"""{"role":"user","content":"Turn {{turn}}: summarise the quarterly numbers for region {{turn % 7}} and flag anything unusual in the margins."},""");
            history.Append($$"""{"role":"assistant","content":"Region {{turn % 7}} grew 4.{{turn}}% with stable margins; returns rose slightly in week {{turn + 2}}."},""");
            turn++;
        }
        const string head = """
            {"model":"fast","temperature":0.2,"max_tokens":512,"stream":true,"user":"u-42",
            "messages":[{"role":"system","content":"You are a careful financial analyst. Answer briefly, cite the numbers you use, and call tools when data is missing."},
            """;
        const string tail = """
            {"role":"user","content":"And what about the weather in Oslo for the offsite?"}],
            "tools":[{"type":"function","function":{"name":"get_weather","description":"Current weather for a city","parameters":{"type":"object","properties":{"city":{"type":"string"},"unit":{"type":"string","enum":["c","f"]}},"required":["city"]}}},
            {"type":"function","function":{"name":"lookup_sales","description":"Sales by region and week","parameters":{"type":"object","properties":{"region":{"type":"integer"},"week":{"type":"integer"}},"required":["region","week"]}}}],
            "tool_choice":"auto"}
            """;
        var json = head + history + tail;
        return Encoding.UTF8.GetBytes(json.ReplaceLineEndings(""));
    }

    private static byte[] BuildStream(int chunks)
    {
        const string head = "{\"id\":\"chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG\",\"object\":\"chat.completion.chunk\",\"created\":1741570283,\"model\":\"gpt-4o-2024-08-06\",\"service_tier\":\"default\",\"system_fingerprint\":\"fp_eb9dce56a8\",";
        var sb = new StringBuilder();
        sb.Append("data: ").Append(head).Append("\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\",\"refusal\":null},\"logprobs\":null,\"finish_reason\":null}],\"usage\":null}\n\n");
        for (var i = 0; i < chunks; i++)
        {
            sb.Append("data: ").Append(head).Append($"\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\" word{i}\"}},\"logprobs\":null,\"finish_reason\":null}}],\"usage\":null}}\n\n");
        }
        sb.Append("data: ").Append(head).Append("\"choices\":[{\"index\":0,\"delta\":{},\"logprobs\":null,\"finish_reason\":\"stop\"}],\"usage\":null}\n\n");
        sb.Append("data: ").Append(head).Append("\"choices\":[],\"usage\":{\"prompt_tokens\":812,\"completion_tokens\":101,\"total_tokens\":913,\"prompt_tokens_details\":{\"cached_tokens\":0,\"audio_tokens\":0},\"completion_tokens_details\":{\"reasoning_tokens\":0,\"audio_tokens\":0,\"accepted_prediction_tokens\":0,\"rejected_prediction_tokens\":0}}}\n\n");
        sb.Append("data: [DONE]\n\n");
        return Encoding.UTF8.GetBytes(sb.ToString());
    }
}
