using System.Text;
using System.Text.Json;

namespace OctoMesh.Edge.Simulator;

/// <summary>What the simulator needs from an OpenAI chat request, read from a parsed document.</summary>
internal sealed class SimChatRequest
{
    /// <summary>OpenAI's pricing counts a low-detail image as 85 tokens; the simulator counts every image so.</summary>
    public const int ImageTokens = 85;

    public required string Model { get; init; }
    public bool Stream { get; init; }
    public bool IncludeUsage { get; init; }
    public int? MaxTokens { get; init; }
    public required IReadOnlyList<string> Stop { get; init; }
    /// <summary>The last message's role and its text.</summary>
    public required string LastRole { get; init; }
    public required string LastUserText { get; init; }
    public required IReadOnlyList<SimTool> Tools { get; init; }
    /// <summary>"none", "auto", "required", or a function name the client forces.</summary>
    public required string ToolChoice { get; init; }
    public bool ParallelToolCalls { get; init; } = true;
    public int PromptTokens { get; init; }

    /// <summary>Reads the request, or returns the OpenAI-style message saying what is wrong with it.</summary>
    public static SimChatRequest? Parse(JsonElement root, out string? error)
    {
        error = null;
        if (root.ValueKind != JsonValueKind.Object
            || !root.TryGetProperty("model", out var model) || model.ValueKind != JsonValueKind.String)
        {
            error = "Missing required parameter: 'model'.";
            return null;
        }
        if (!root.TryGetProperty("messages", out var messages) || messages.ValueKind != JsonValueKind.Array || messages.GetArrayLength() == 0)
        {
            error = "Missing required parameter: 'messages'.";
            return null;
        }

        // Prompt tokens: 3 per message, its content and name, and 3 to prime the reply (docs/simulator.md).
        var promptTokens = 3;
        string lastRole = "user", lastUser = "";
        foreach (var message in messages.EnumerateArray())
        {
            if (message.ValueKind != JsonValueKind.Object || !message.TryGetProperty("role", out var role) || role.ValueKind != JsonValueKind.String)
            {
                error = "Invalid 'messages': each message needs a string 'role'.";
                return null;
            }
            var text = TextOf(message, out var images);
            promptTokens += 3 + SimTokenizer.Count(text) + images * ImageTokens;
            if (message.TryGetProperty("name", out var name) && name.ValueKind == JsonValueKind.String)
            {
                promptTokens += SimTokenizer.Count(name.GetString());
            }
            if (message.TryGetProperty("tool_calls", out var calls) && calls.ValueKind == JsonValueKind.Array)
            {
                promptTokens += SimTokenizer.Count(calls.GetRawText());
            }
            lastRole = role.GetString()!;
            if (lastRole == "user")
            {
                lastUser = text;
            }
        }

        var tools = new List<SimTool>();
        if (root.TryGetProperty("tools", out var toolsElement) && toolsElement.ValueKind == JsonValueKind.Array)
        {
            promptTokens += SimTokenizer.Count(toolsElement.GetRawText());
            foreach (var tool in toolsElement.EnumerateArray())
            {
                if (tool.TryGetProperty("function", out var function) && function.TryGetProperty("name", out var toolName) && toolName.ValueKind == JsonValueKind.String)
                {
                    tools.Add(new SimTool(toolName.GetString()!, function.TryGetProperty("parameters", out var p) ? p.Clone() : default));
                }
            }
        }

        return new SimChatRequest
        {
            Model = model.GetString()!,
            Stream = root.TryGetProperty("stream", out var stream) && stream.ValueKind == JsonValueKind.True,
            IncludeUsage = root.TryGetProperty("stream_options", out var options) && options.ValueKind == JsonValueKind.Object
                && options.TryGetProperty("include_usage", out var include) && include.ValueKind == JsonValueKind.True,
            MaxTokens = ReadMaxTokens(root),
            Stop = ReadStop(root),
            LastRole = lastRole,
            LastUserText = lastUser,
            Tools = tools,
            ToolChoice = ReadToolChoice(root),
            ParallelToolCalls = !(root.TryGetProperty("parallel_tool_calls", out var parallel) && parallel.ValueKind == JsonValueKind.False),
            PromptTokens = promptTokens,
        };
    }

    /// <summary>A message's text: a string content, or its text parts joined; images counted apart.</summary>
    private static string TextOf(JsonElement message, out int images)
    {
        images = 0;
        if (!message.TryGetProperty("content", out var content))
        {
            return "";
        }
        if (content.ValueKind == JsonValueKind.String)
        {
            return content.GetString()!;
        }
        if (content.ValueKind != JsonValueKind.Array)
        {
            return "";
        }
        var text = new StringBuilder();
        foreach (var part in content.EnumerateArray())
        {
            if (part.TryGetProperty("text", out var t) && t.ValueKind == JsonValueKind.String)
            {
                text.Append(t.GetString()).Append('\n');
            }
            else if (part.TryGetProperty("type", out var type) && type.ValueEquals("image_url"))
            {
                images++;
            }
        }
        return text.ToString();
    }

    private static int? ReadMaxTokens(JsonElement root)
    {
        foreach (var name in (ReadOnlySpan<string>)["max_completion_tokens", "max_tokens"])
        {
            if (root.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Number && value.TryGetInt32(out var n))
            {
                return n;
            }
        }
        return null;
    }

    private static IReadOnlyList<string> ReadStop(JsonElement root)
    {
        if (!root.TryGetProperty("stop", out var stop))
        {
            return [];
        }
        return stop.ValueKind switch
        {
            JsonValueKind.String => [stop.GetString()!],
            JsonValueKind.Array => stop.EnumerateArray().Where(s => s.ValueKind == JsonValueKind.String).Select(s => s.GetString()!).ToList(),
            _ => [],
        };
    }

    private static string ReadToolChoice(JsonElement root)
    {
        if (!root.TryGetProperty("tool_choice", out var choice))
        {
            return "auto";
        }
        if (choice.ValueKind == JsonValueKind.String)
        {
            return choice.GetString()!;
        }
        return choice.ValueKind == JsonValueKind.Object && choice.TryGetProperty("function", out var f)
            && f.TryGetProperty("name", out var name) && name.ValueKind == JsonValueKind.String
            ? name.GetString()!
            : "auto";
    }
}

/// <summary>A function tool the client offers: its name and JSON-schema parameters.</summary>
internal sealed record SimTool(string Name, JsonElement Parameters);
