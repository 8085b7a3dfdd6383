using System.Text.Json;

namespace OctoMesh.Edge.Optimizer;

/// <summary>
/// A workload sampled from live traffic: the exchanges a <c>full</c> workspace kept (already redacted), read from its
/// access export. Each OpenAI-format chat request becomes an open item (the judge compares candidates with the
/// reference model), labelled with the task the request declared or was classified as.
/// </summary>
internal static class LiveTraffic
{
    public static IEnumerable<WorkloadItem> Items(string exportPath, string defaultTask, int? sample, int seed)
    {
        var items = new List<WorkloadItem>();
        foreach (var line in File.ReadLines(exportPath))
        {
            try
            {
                using var document = JsonDocument.Parse(line);
                var root = document.RootElement;
                if (root.GetProperty("type").GetString() != "exchange" || root.TryGetProperty("unreadable", out _)
                    || root.GetProperty("api").GetString() != "chat_completions")
                {
                    continue;
                }
                using var request = JsonDocument.Parse(root.GetProperty("request").GetString()!);
                if (!request.RootElement.TryGetProperty("messages", out var messages) || messages.ValueKind != JsonValueKind.Array || messages.GetArrayLength() == 0)
                {
                    continue;
                }
                var task = root.TryGetProperty("task", out var t) && t.ValueKind == JsonValueKind.String && t.GetString() is { Length: > 0 } declared ? declared : defaultTask;
                // Request ids are the client's: numbered too, so two alike stay two items.
                items.Add(new WorkloadItem($"live-{items.Count:D6}-{root.GetProperty("request_id").GetString()}", task, messages.GetRawText(), null,
                    new Checker(CheckerKind.Judge)));
            }
            catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException)
            {
                // Not an exchange line this knows (another record type, a torn line): skipped.
            }
        }
        if (sample is { } count && count < items.Count)
        {
            var random = new Random(seed);
            items = [.. items.OrderBy(_ => random.Next()).Take(count)];
        }
        return items;
    }
}
