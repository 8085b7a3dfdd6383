using System.Text.Json;

namespace OctoMesh.Edge.Wire;

/// <summary>
/// Reads OpenAI's <c>usage</c> object out of a chat completion, a stream chunk or an embeddings
/// response, without building a DOM. Only top-level fields are looked at; everything else is skipped.
/// </summary>
internal static class UsageReader
{
    /// <summary>A cheap test before parsing: does this chunk carry a <c>"usage"</c> object (not <c>null</c>)?</summary>
    public static bool MayHaveUsage(ReadOnlySpan<byte> json)
    {
        var at = json.IndexOf("\"usage\""u8);
        if (at < 0)
        {
            return false;
        }
        var rest = json[(at + 7)..].TrimStart(" \t\r\n"u8);
        return rest.Length > 0 && rest[0] == (byte)':' && rest[1..].TrimStart(" \t\r\n"u8) is [(byte)'{', ..];
    }

    /// <summary>
    /// Reads <c>usage</c> from a whole JSON object (a stream chunk); <paramref name="choicesEmpty"/> tells whether <c>choices</c> is present and
    /// empty, the mark of the extra chunk that <c>stream_options.include_usage</c> adds.
    /// </summary>
    public static bool TryRead(ReadOnlySpan<byte> json, out TokenUsage usage, out bool choicesEmpty)
    {
        usage = default;
        choicesEmpty = false;
        var found = false;
        var reader = new Utf8JsonReader(json);
        try
        {
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return false;
            }
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("usage"u8))
                {
                    reader.Read();
                    if (reader.TokenType == JsonTokenType.StartObject)
                    {
                        usage = ReadUsage(ref reader);
                        found = true;
                    }
                    else
                    {
                        reader.Skip();
                    }
                }
                else if (reader.ValueTextEquals("choices"u8))
                {
                    reader.Read();
                    if (reader.TokenType == JsonTokenType.StartArray)
                    {
                        reader.Read();
                        choicesEmpty = reader.TokenType == JsonTokenType.EndArray;
                        if (!choicesEmpty)
                        {
                            SkipRestOfArray(ref reader);
                        }
                    }
                    else
                    {
                        reader.Skip();
                    }
                }
                else
                {
                    reader.Read();
                    reader.Skip();
                }
            }
        }
        catch (JsonException)
        {
            return false;
        }
        return found;
    }

    /// <summary>
    /// Reads usage from the last bytes of a non-streamed response, which is passed through without
    /// being held whole: OpenAI-format bodies end with (or near) their top-level <c>usage</c> object.
    /// Inside JSON strings a quote is escaped, so an unescaped <c>"usage"</c> is a key, never content.
    /// </summary>
    public static bool TryReadTail(ReadOnlySpan<byte> tail, out TokenUsage usage)
    {
        usage = default;
        var at = tail.LastIndexOf("\"usage\""u8);
        if (at < 0)
        {
            return false;
        }
        var rest = tail[(at + 7)..].TrimStart(" \t\r\n"u8);
        if (rest is not [(byte)':', ..])
        {
            return false;
        }
        rest = rest[1..].TrimStart(" \t\r\n"u8);
        if (rest is not [(byte)'{', ..])
        {
            return false;
        }
        // Only the usage object is read; what follows it in the tail is never reached.
        var reader = new Utf8JsonReader(rest, isFinalBlock: false, state: default);
        try
        {
            reader.Read();
            usage = ReadUsage(ref reader);
            return reader.TokenType == JsonTokenType.EndObject;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    private static void SkipRestOfArray(ref Utf8JsonReader reader)
    {
        // The reader stands on the array's first element.
        do
        {
            reader.Skip();
        }
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray);
    }

    /// <summary>
    /// Reads a usage object in OpenAI's names, or in Anthropic's (<c>input_tokens</c>, cache reads and
    /// writes apart, <c>output_tokens</c>), which is converted to OpenAI's terms.
    /// </summary>
    private static TokenUsage ReadUsage(ref Utf8JsonReader reader)
    {
        int prompt = 0, completion = 0, total = 0, cached = 0, reasoning = 0;
        int input = 0, cacheWrite = 0, cacheRead = 0, output = 0;
        var anthropic = false;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("prompt_tokens"u8)) prompt = ReadInt(ref reader);
            else if (reader.ValueTextEquals("completion_tokens"u8)) completion = ReadInt(ref reader);
            else if (reader.ValueTextEquals("total_tokens"u8)) total = ReadInt(ref reader);
            else if (reader.ValueTextEquals("prompt_tokens_details"u8)) cached = ReadDetail(ref reader, "cached_tokens"u8);
            else if (reader.ValueTextEquals("completion_tokens_details"u8)) reasoning = ReadDetail(ref reader, "reasoning_tokens"u8);
            else if (reader.ValueTextEquals("input_tokens"u8)) { input = ReadInt(ref reader); anthropic = true; }
            else if (reader.ValueTextEquals("output_tokens"u8)) { output = ReadInt(ref reader); anthropic = true; }
            else if (reader.ValueTextEquals("cache_creation_input_tokens"u8)) cacheWrite = ReadInt(ref reader);
            else if (reader.ValueTextEquals("cache_read_input_tokens"u8)) cacheRead = ReadInt(ref reader);
            else
            {
                reader.Read();
                reader.TrySkip();
            }
        }
        return anthropic
            ? AnthropicUsage.ToOpenAI(input, cacheWrite, cacheRead, output)
            : new TokenUsage(prompt, completion, total, cached, reasoning);
    }

    private static int ReadInt(ref Utf8JsonReader reader)
    {
        reader.Read();
        return reader.TokenType == JsonTokenType.Number && reader.TryGetInt32(out var value) ? value : 0;
    }

    private static int ReadDetail(ref Utf8JsonReader reader, ReadOnlySpan<byte> name)
    {
        reader.Read();
        if (reader.TokenType != JsonTokenType.StartObject)
        {
            reader.TrySkip();
            return 0;
        }
        var value = 0;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals(name))
            {
                value = ReadInt(ref reader);
            }
            else
            {
                reader.Read();
                reader.TrySkip();
            }
        }
        return value;
    }
}
