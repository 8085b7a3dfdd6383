using System.Text.Json;

namespace OctoMesh.Edge.Optimizer;

/// <summary>
/// One item of a workload (JSON Lines, one object per line): its id, task class, the chat messages to send, and how
/// its answer is scored: a reference answer and a checker for closed tasks.
/// <code>{"id":"math-0001","task":"math","messages":[{"role":"user","content":"What is 37 * 12?"}],"reference":"444","checker":{"kind":"numeric"}}</code>
/// </summary>
/// <param name="Messages">The <c>messages</c> array as raw JSON, sent as is.</param>
internal sealed record WorkloadItem(string Id, string Task, string Messages, string? Reference, Checker Checker)
{
    /// <summary>Reads a workload file; a line that is not an item is an error naming its line number.</summary>
    public static List<WorkloadItem> ReadAll(string path)
    {
        var items = new List<WorkloadItem>();
        var number = 0;
        foreach (var line in File.ReadLines(path))
        {
            number++;
            if (string.IsNullOrWhiteSpace(line))
            {
                continue;
            }
            try
            {
                using var document = JsonDocument.Parse(line);
                items.Add(Read(document.RootElement));
            }
            catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException or ArgumentException)
            {
                throw new FormatException($"{path}:{number}: not a workload item ({e.Message}). Expected {{\"id\",\"task\",\"messages\",\"reference\"?,\"checker\"?}}.", e);
            }
        }
        if (items.Select(i => i.Id).Distinct().Count() != items.Count)
        {
            throw new FormatException($"{path}: item ids are not unique.");
        }
        return items;
    }

    private static WorkloadItem Read(JsonElement item)
    {
        var messages = item.GetProperty("messages");
        if (messages.ValueKind != JsonValueKind.Array || messages.GetArrayLength() == 0
            || messages.EnumerateArray().Any(m => m.ValueKind != JsonValueKind.Object || !m.TryGetProperty("role", out var role) || role.ValueKind != JsonValueKind.String))
        {
            throw new FormatException("messages must be a non-empty array of objects with a role");
        }
        var reference = item.TryGetProperty("reference", out var r) && r.ValueKind != JsonValueKind.Null
            ? r.ValueKind == JsonValueKind.String ? r.GetString() : r.GetRawText()
            : null;
        var checker = item.TryGetProperty("checker", out var c) ? Checker.Read(c) : new Checker(CheckerKind.Exact);
        return new WorkloadItem(item.GetProperty("id").GetString()!, item.GetProperty("task").GetString()!, messages.GetRawText(), reference, checker);
    }

    /// <summary>The last user message's text (what the task classifier reads).</summary>
    public string LastUserText => LastUserTextOf(Messages);

    /// <summary>The last user message's text in a <c>messages</c> array (raw JSON); empty when there is none as a string.</summary>
    public static string LastUserTextOf(string messages)
    {
        using var document = JsonDocument.Parse(messages);
        var last = document.RootElement.EnumerateArray()
            .LastOrDefault(m => m.ValueKind == JsonValueKind.Object && m.TryGetProperty("role", out var role) && role.ValueKind == JsonValueKind.String && role.GetString() == "user");
        return last.ValueKind == JsonValueKind.Object && last.TryGetProperty("content", out var content) && content.ValueKind == JsonValueKind.String
            ? content.GetString()! : "";
    }

    /// <summary>A <c>messages</c> array of one user message.</summary>
    public static string UserMessages(string prompt)
    {
        using var stream = new MemoryStream();
        using (var json = new Utf8JsonWriter(stream, Wire.OpenAIError.WriterOptions))
        {
            json.WriteStartArray();
            json.WriteStartObject();
            json.WriteString("role", "user");
            json.WriteString("content", prompt);
            json.WriteEndObject();
            json.WriteEndArray();
        }
        return System.Text.Encoding.UTF8.GetString(stream.ToArray());
    }

    public void Write(Utf8JsonWriter json)
    {
        json.WriteStartObject();
        json.WriteString("id", Id);
        json.WriteString("task", Task);
        json.WritePropertyName("messages");
        json.WriteRawValue(Messages);
        json.WriteString("reference", Reference);
        json.WritePropertyName("checker");
        Checker.Write(json);
        json.WriteEndObject();
    }
}
