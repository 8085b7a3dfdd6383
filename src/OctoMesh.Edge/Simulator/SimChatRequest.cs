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

    /// <summary>
    /// Reads an Anthropic Messages request (Anthropic API reference, "Messages" › "Create a Message"),
    /// counting its prompt by the same rule as an OpenAI one: 3, plus 3 for the system prompt and its
    /// tokens, plus per message 3 and the tokens of its text, tool_use (name and input JSON) and
    /// tool_result blocks, 85 per image, plus the tokens of the tools JSON.
    /// </summary>
    /// <param name="countOnly">A count_tokens request: no <c>max_tokens</c> needed.</param>
    public static SimChatRequest? ParseAnthropic(JsonElement root, out string? error, bool countOnly = false)
    {
        error = null;
        if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("model", out var model) || model.ValueKind != JsonValueKind.String)
        {
            error = "model: Field required";
            return null;
        }
        var hasMaxTokens = root.TryGetProperty("max_tokens", out var maxTokens) && maxTokens.ValueKind == JsonValueKind.Number && maxTokens.GetInt32() >= 1;
        if (!hasMaxTokens && !countOnly)
        {
            error = "max_tokens: Field required";
            return null;
        }
        if (!root.TryGetProperty("messages", out var messages) || messages.ValueKind != JsonValueKind.Array || messages.GetArrayLength() == 0)
        {
            error = "messages: Field required";
            return null;
        }

        var promptTokens = 3;
        if (root.TryGetProperty("system", out var system))
        {
            promptTokens += 3 + SimTokenizer.Count(BlocksText(system, out _, out _, out _));
        }
        string lastRole = "user", lastUser = "";
        foreach (var message in messages.EnumerateArray())
        {
            var role = message.TryGetProperty("role", out var r) && r.ValueKind == JsonValueKind.String ? r.GetString()! : "";
            if (role is not ("user" or "assistant"))
            {
                error = "messages: roles must be 'user' or 'assistant'";
                return null;
            }
            var text = BlocksText(message.GetProperty("content"), out var images, out var toolTokens, out var onlyToolResults);
            promptTokens += 3 + SimTokenizer.Count(text) + toolTokens + images * ImageTokens;
            lastRole = role == "user" && onlyToolResults ? "tool" : role;
            if (role == "user" && !onlyToolResults)
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
                if (tool.TryGetProperty("name", out var name) && name.ValueKind == JsonValueKind.String)
                {
                    tools.Add(new SimTool(name.GetString()!, tool.TryGetProperty("input_schema", out var schema) ? schema.Clone() : default));
                }
            }
        }

        var choice = "auto";
        var parallel = true;
        if (root.TryGetProperty("tool_choice", out var toolChoice) && toolChoice.ValueKind == JsonValueKind.Object)
        {
            choice = toolChoice.TryGetProperty("type", out var type) ? type.GetString() switch
            {
                "any" => "required",
                "none" => "none",
                "tool" when toolChoice.TryGetProperty("name", out var forced) => forced.GetString()!,
                _ => "auto",
            } : "auto";
            parallel = !(toolChoice.TryGetProperty("disable_parallel_tool_use", out var disable) && disable.ValueKind == JsonValueKind.True);
        }

        return new SimChatRequest
        {
            Model = model.GetString()!,
            Stream = root.TryGetProperty("stream", out var stream) && stream.ValueKind == JsonValueKind.True,
            IncludeUsage = true,
            MaxTokens = hasMaxTokens ? maxTokens.GetInt32() : null,
            Stop = root.TryGetProperty("stop_sequences", out var stop) && stop.ValueKind == JsonValueKind.Array
                ? stop.EnumerateArray().Select(e => e.GetString()!).ToList()
                : [],
            LastRole = lastRole,
            LastUserText = lastUser,
            Tools = tools,
            ToolChoice = choice,
            ParallelToolCalls = parallel,
            PromptTokens = promptTokens,
        };
    }

    /// <summary>
    /// Reads a Gemini <c>generateContent</c> request (Gemini API reference, "Generating content"),
    /// counting its prompt by the same rule: 3, plus 3 and the tokens of the system instruction, plus
    /// per content 3 and the tokens of its text, functionCall (name and args JSON) and functionResponse
    /// (response JSON) parts, 85 per inline image, plus the tokens of the tools JSON.
    /// </summary>
    public static SimChatRequest? ParseGemini(JsonElement root, string model, bool stream, out string? error)
    {
        error = null;
        if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("contents", out var contents)
            || contents.ValueKind != JsonValueKind.Array || contents.GetArrayLength() == 0)
        {
            error = "* GenerateContentRequest.contents: contents is not specified";
            return null;
        }
        var promptTokens = 3;
        if (root.TryGetProperty("systemInstruction", out var system))
        {
            promptTokens += 3 + SimTokenizer.Count(GeminiText(system, out _, out _, out _));
        }
        string lastRole = "user", lastUser = "";
        foreach (var content in contents.EnumerateArray())
        {
            var role = content.TryGetProperty("role", out var r) ? r.GetString() : "user";
            var text = GeminiText(content, out var images, out var toolTokens, out var onlyResponses);
            promptTokens += 3 + SimTokenizer.Count(text) + toolTokens + images * ImageTokens;
            lastRole = role == "model" ? "assistant" : onlyResponses ? "tool" : "user";
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
                if (tool.TryGetProperty("functionDeclarations", out var declarations))
                {
                    tools.AddRange(declarations.EnumerateArray().Select(d =>
                        new SimTool(d.GetProperty("name").GetString()!, d.TryGetProperty("parameters", out var p) ? p.Clone() : default)));
                }
            }
        }
        var choice = "auto";
        if (root.TryGetProperty("toolConfig", out var toolConfig) && toolConfig.TryGetProperty("functionCallingConfig", out var calling))
        {
            var allowed = calling.TryGetProperty("allowedFunctionNames", out var names) && names.GetArrayLength() == 1 ? names[0].GetString() : null;
            choice = calling.TryGetProperty("mode", out var mode) ? mode.GetString() switch
            {
                "NONE" => "none",
                "ANY" => allowed ?? "required",
                _ => "auto",
            } : "auto";
        }
        var config = root.TryGetProperty("generationConfig", out var g) ? g : default;
        return new SimChatRequest
        {
            Model = model,
            Stream = stream,
            IncludeUsage = true,
            MaxTokens = config.ValueKind == JsonValueKind.Object && config.TryGetProperty("maxOutputTokens", out var max) ? max.GetInt32() : null,
            Stop = config.ValueKind == JsonValueKind.Object && config.TryGetProperty("stopSequences", out var stop)
                ? stop.EnumerateArray().Select(e => e.GetString()!).ToList()
                : [],
            LastRole = lastRole,
            LastUserText = lastUser,
            Tools = tools,
            ToolChoice = choice,
            PromptTokens = promptTokens,
        };
    }

    /// <summary>Text of a Gemini content's parts; function calls and responses counted apart.</summary>
    private static string GeminiText(JsonElement content, out int images, out int toolTokens, out bool onlyResponses)
    {
        images = 0;
        toolTokens = 0;
        onlyResponses = false;
        if (!content.TryGetProperty("parts", out var parts) || parts.ValueKind != JsonValueKind.Array)
        {
            return "";
        }
        var text = new StringBuilder();
        int count = 0, responses = 0;
        foreach (var part in parts.EnumerateArray())
        {
            count++;
            if (part.TryGetProperty("text", out var t))
            {
                text.Append(text.Length > 0 ? "\n" : "").Append(t.GetString());
            }
            else if (part.TryGetProperty("inlineData", out _))
            {
                images++;
            }
            else if (part.TryGetProperty("functionCall", out var call))
            {
                toolTokens += SimTokenizer.Count(call.GetProperty("name").GetString()) + SimTokenizer.Count(call.TryGetProperty("args", out var a) ? a.GetRawText() : "");
            }
            else if (part.TryGetProperty("functionResponse", out var response))
            {
                responses++;
                toolTokens += SimTokenizer.Count(response.TryGetProperty("response", out var body) ? body.GetRawText() : "");
            }
        }
        onlyResponses = count > 0 && responses == count;
        return text.ToString();
    }

    /// <summary>Text of an Anthropic content value (a string or blocks); tool blocks counted apart.</summary>
    private static string BlocksText(JsonElement content, out int images, out int toolTokens, out bool onlyToolResults)
    {
        images = 0;
        toolTokens = 0;
        onlyToolResults = false;
        if (content.ValueKind == JsonValueKind.String)
        {
            return content.GetString()!;
        }
        if (content.ValueKind != JsonValueKind.Array)
        {
            return "";
        }
        var text = new StringBuilder();
        var blocks = 0;
        var results = 0;
        foreach (var block in content.EnumerateArray())
        {
            blocks++;
            var type = block.TryGetProperty("type", out var t) ? t.GetString() : null;
            switch (type)
            {
                case "text":
                    text.Append(text.Length > 0 ? "\n" : "").Append(block.GetProperty("text").GetString());
                    break;
                case "image":
                    images++;
                    break;
                case "tool_use":
                    toolTokens += SimTokenizer.Count(block.GetProperty("name").GetString()) + SimTokenizer.Count(block.GetProperty("input").GetRawText());
                    break;
                case "tool_result":
                    results++;
                    if (block.TryGetProperty("content", out var result))
                    {
                        toolTokens += SimTokenizer.Count(result.ValueKind == JsonValueKind.String ? result.GetString() : result.GetRawText());
                    }
                    break;
            }
        }
        onlyToolResults = blocks > 0 && results == blocks;
        return text.ToString();
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
                text.Append(text.Length > 0 ? "\n" : "").Append(t.GetString());
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
