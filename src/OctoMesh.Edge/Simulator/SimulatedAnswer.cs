using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace OctoMesh.Edge.Simulator;

/// <summary>A tool call the simulated model makes: id, function name and its JSON arguments.</summary>
internal sealed record SimToolCall(string Id, string Name, string Arguments);

/// <summary>
/// The simulated model's answer, derived only from the model name, the prompt and the knobs, so the
/// same request always gets the same answer (docs/simulator.md). Text answers are a list of tokens
/// (as <see cref="SimTokenizer"/> counts them), streamed one per chunk.
/// </summary>
internal sealed partial class SimulatedAnswer
{
    /// <summary>The string values a tool call's arguments are given.</summary>
    private static readonly string[] s_words =
    [
        "the", "gateway", "routes", "each", "request", "to", "a", "model", "that", "answers", "it", "well",
        "and", "streams", "tokens", "back", "while", "metering", "cost", "with", "care", "cache", "repeats",
        "edge", "mesh", "latency", "budget", "provider", "simulated", "reply", "for", "your", "prompt",
    ];

    /// <summary>What a reply goes on with after its first sentence, a sentence at a time, so that it reads as prose.</summary>
    private static readonly string[] s_sentences =
    [
        " It comes from the OctoMesh simulator, which stands in for a real model.",
        " The same request always gets the same reply, so a test can count on it.",
        " Its length, token counts and latency follow the simulated model's profile.",
        " Routing, caching and metering treat it as they treat any other answer.",
        " Streamed, it arrives one token at a time, as a provider would send it.",
        " Point a provider at a real model to get real answers instead.",
    ];

    private SimulatedAnswer(IReadOnlyList<string> tokens, IReadOnlyList<SimToolCall> toolCalls, string finishReason, int completionTokens,
        string? stopSequence = null)
    {
        Tokens = tokens;
        ToolCalls = toolCalls;
        FinishReason = finishReason;
        CompletionTokens = completionTokens;
        StopSequence = stopSequence;
    }

    /// <summary>The stop sequence the answer was cut at, if any (Anthropic reports it).</summary>
    public string? StopSequence { get; }

    /// <summary>The text answer as tokens; empty when the answer is tool calls.</summary>
    public IReadOnlyList<string> Tokens { get; }

    public IReadOnlyList<SimToolCall> ToolCalls { get; }

    /// <summary>stop, length or tool_calls.</summary>
    public string FinishReason { get; }

    public int CompletionTokens { get; }

    public string Text => string.Concat(Tokens);

    public static SimulatedAnswer Create(SimChatRequest request, SimulatedModel model, SimKnobs knobs)
    {
        var seed = Seed(request.Model, request.LastUserText);
        if (request.Tools.Count > 0 && request.ToolChoice != "none" && request.LastRole != "tool")
        {
            return CallTools(request, seed);
        }

        string text;
        if (knobs.Echo)
        {
            text = request.LastUserText;
        }
        else if (request.LastRole != "tool" && SimulatedTasks.TryAnswer(request.LastUserText, out var task, out var rightAnswer, out var wrongAnswer))
        {
            // A task of the simulated market: right with the model's true quality for it, else a plausible wrong answer,
            // and nothing more (a checker reads it whole).
            var right = Uniform(seed ^ 0x9E3779B97F4A7C15UL) < model.QualityFor(task);
            var exact = SimTokenizer.Split(right ? rightAnswer : wrongAnswer);
            return new SimulatedAnswer(exact, [], "stop", exact.Count);
        }
        else if (request.LastRole == "tool")
        {
            text = "Thanks, the tool result is in; here is the summary.";
        }
        else if (TryArithmetic(request.LastUserText, out var right))
        {
            // A checkable task: right with the model's true quality for "math", else off by a little.
            var correct = Uniform(seed ^ 0x9E3779B97F4A7C15UL) < model.QualityFor("math");
            var value = correct ? right : right + 1 + (long)(seed % 3);
            text = $"The answer is {value.ToString(CultureInfo.InvariantCulture)}.";
        }
        else
        {
            text = "This is a simulated answer.";
        }

        var tokens = SimTokenizer.Split(text);
        var target = knobs.Tokens ?? (knobs.Echo ? tokens.Count : tokens.Count + 8 + (int)(seed % 24));
        for (var i = 0; tokens.Count < target; i++)
        {
            tokens.AddRange(SimTokenizer.Split(s_sentences[(int)((seed + (ulong)i) % (ulong)s_sentences.Length)]));
        }
        // Whole sentences, unless the client asked for an exact number of tokens (x-sim-tokens).
        if (knobs.Tokens is { } asked && tokens.Count > asked)
        {
            tokens.RemoveRange(asked, tokens.Count - asked);
        }

        var finish = "stop";
        if (request.MaxTokens is { } max && tokens.Count > max)
        {
            tokens.RemoveRange(max, tokens.Count - max);
            finish = "length";
        }
        var stopSequence = request.Stop.Count > 0 ? CutAtStop(tokens, request.Stop) : null;
        if (stopSequence is not null)
        {
            finish = "stop";
        }
        return new SimulatedAnswer(tokens, [], finish, tokens.Count, stopSequence);
    }

    private static SimulatedAnswer CallTools(SimChatRequest request, ulong seed)
    {
        var chosen = request.ToolChoice is "auto" or "required"
            ? request.Tools
            : request.Tools.Where(t => t.Name == request.ToolChoice).ToList();
        if (chosen.Count == 0)
        {
            chosen = [request.Tools[0]];
        }
        // One call, or one per tool (up to four) when the prompt asks for parallel work and the client allows it.
        var count = request.ParallelToolCalls && request.LastUserText.Contains("parallel", StringComparison.OrdinalIgnoreCase)
            ? Math.Min(chosen.Count, 4)
            : 1;
        var calls = new List<SimToolCall>(count);
        var tokens = 0;
        for (var i = 0; i < count; i++)
        {
            var arguments = Arguments(chosen[i].Parameters, seed + (ulong)i);
            calls.Add(new SimToolCall($"call_{seed + (ulong)i:x16}", chosen[i].Name, arguments));
            tokens += SimTokenizer.Count(chosen[i].Name) + SimTokenizer.Count(arguments);
        }
        return new SimulatedAnswer([], calls, "tool_calls", tokens);
    }

    /// <summary>Arguments that satisfy the schema's required properties (all properties when none are required).</summary>
    private static string Arguments(JsonElement schema, ulong seed)
    {
        using var stream = new MemoryStream();
        using (var writer = new Utf8JsonWriter(stream, Wire.OpenAIError.WriterOptions))
        {
            writer.WriteStartObject();
            if (schema.ValueKind == JsonValueKind.Object && schema.TryGetProperty("properties", out var properties) && properties.ValueKind == JsonValueKind.Object)
            {
                var required = schema.TryGetProperty("required", out var r) && r.ValueKind == JsonValueKind.Array
                    ? r.EnumerateArray().Select(e => e.GetString()).ToHashSet()
                    : null;
                foreach (var property in properties.EnumerateObject())
                {
                    if (required is null || required.Contains(property.Name))
                    {
                        writer.WritePropertyName(property.Name);
                        WriteValue(writer, property.Value, seed++);
                    }
                }
            }
            writer.WriteEndObject();
        }
        return Encoding.UTF8.GetString(stream.ToArray());
    }

    private static void WriteValue(Utf8JsonWriter writer, JsonElement schema, ulong seed)
    {
        if (schema.TryGetProperty("enum", out var values) && values.ValueKind == JsonValueKind.Array && values.GetArrayLength() > 0)
        {
            values[(int)(seed % (ulong)values.GetArrayLength())].WriteTo(writer);
            return;
        }
        var type = schema.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString() : "string";
        switch (type)
        {
            case "integer" or "number": writer.WriteNumberValue((long)(seed % 100)); break;
            case "boolean": writer.WriteBooleanValue(seed % 2 == 0); break;
            case "array": writer.WriteStartArray(); writer.WriteEndArray(); break;
            case "object": writer.WriteStartObject(); writer.WriteEndObject(); break;
            default: writer.WriteStringValue(s_words[(int)(seed % (ulong)s_words.Length)]); break;
        }
    }

    /// <summary>Cuts the answer before the first stop sequence, as the providers do (the sequence is not returned); returns that sequence.</summary>
    private static string? CutAtStop(List<string> tokens, IReadOnlyList<string> stops)
    {
        var text = string.Concat(tokens);
        var at = -1;
        string? stop = null;
        foreach (var candidate in stops)
        {
            var found = candidate.Length == 0 ? -1 : text.IndexOf(candidate, StringComparison.Ordinal);
            if (found >= 0 && (at < 0 || found < at))
            {
                (at, stop) = (found, candidate);
            }
        }
        if (at < 0)
        {
            return null;
        }
        var kept = SimTokenizer.Split(text[..at]);
        tokens.Clear();
        tokens.AddRange(kept);
        return stop;
    }

    /// <summary>Finds "A + B", "A - B" or "A * B" (whole numbers) in the prompt and computes it.</summary>
    private static bool TryArithmetic(string prompt, out long value)
    {
        var match = ArithmeticPattern().Match(prompt);
        value = 0;
        if (!match.Success || !long.TryParse(match.Groups[1].Value, CultureInfo.InvariantCulture, out var a)
            || !long.TryParse(match.Groups[3].Value, CultureInfo.InvariantCulture, out var b))
        {
            return false;
        }
        value = match.Groups[2].Value switch { "+" => a + b, "-" => a - b, _ => a * b };
        return true;
    }

    [GeneratedRegex(@"(-?\d{1,9})\s*([+*-])\s*(-?\d{1,9})")]
    private static partial Regex ArithmeticPattern();

    /// <summary>FNV-1a over the model and prompt: stable across runs and machines.</summary>
    internal static ulong Seed(string model, string prompt)
    {
        var hash = 14695981039346656037UL;
        foreach (var c in model)
        {
            hash = (hash ^ c) * 1099511628211UL;
        }
        hash = (hash ^ '\n') * 1099511628211UL;
        foreach (var c in prompt)
        {
            hash = (hash ^ c) * 1099511628211UL;
        }
        return hash;
    }

    /// <summary>A seed mapped to [0, 1).</summary>
    private static double Uniform(ulong seed)
    {
        seed ^= seed >> 33;
        seed *= 0xff51afd7ed558ccdUL;
        seed ^= seed >> 33;
        return (seed >> 11) * (1.0 / (1UL << 53));
    }
}
