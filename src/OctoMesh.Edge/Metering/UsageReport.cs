using System.Buffers;
using System.Buffers.Text;
using System.Globalization;
using System.Text;
using System.Text.Json;
using OctoMesh.Edge.Proxy;

namespace OctoMesh.Edge.Metering;

/// <summary>How billing rows are written.</summary>
internal enum ExportFormat
{
    Csv,
    Jsonl,
}

/// <summary>Token and cost totals of a set of requests.</summary>
internal sealed class UsageTotals
{
    public long Requests, PromptTokens, CompletionTokens, CachedTokens, CacheWriteTokens, ReasoningTokens, CostMicros;

    public void Add(in TraceRecord record)
    {
        Requests++;
        PromptTokens += record.PromptTokens;
        CompletionTokens += record.CompletionTokens;
        CachedTokens += record.CachedTokens;
        CacheWriteTokens += record.CacheWriteTokens;
        ReasoningTokens += record.ReasoningTokens;
        CostMicros += record.CostMicros;
    }
}

/// <summary>
/// Billing rows from trace records: one per request, or one per group (<see cref="GroupFields"/>) with
/// totals. Written straight into UTF-8 bytes (no string per row), as CSV with a header or as JSON lines.
/// </summary>
internal sealed class UsageReport(TraceNames names, ExportFormat format)
{
    public static readonly string[] GroupFields = ["workspace", "key", "route", "provider", "model", "task", "day"];

    private static readonly string[] s_recordColumns =
    [
        "id", "request_id_hash", "start", "workspace", "key", "route", "provider", "model", "task", "operation", "status", "stream", "hedged", "outcome",
        "prompt_tokens", "completion_tokens", "cached_tokens", "cache_write_tokens", "reasoning_tokens", "cost_micros", "first_byte_ms", "total_ms", "overhead_us",
        "retries", "fallbacks",
    ];

    private static readonly string[] s_totalColumns =
        ["requests", "prompt_tokens", "completion_tokens", "cached_tokens", "cache_write_tokens", "reasoning_tokens", "cost_micros", "cost_usd"];

    private readonly ArrayBufferWriter<byte> _buffer = new(64 * 1024);
    private readonly Utf8JsonWriter _json = new(Stream.Null);
    private int _column;

    /// <summary>Bytes written and not yet taken by <see cref="CopyTo"/>.</summary>
    public int Pending => _buffer.WrittenCount;

    /// <summary>Moves the written bytes to <paramref name="output"/>.</summary>
    public void CopyTo(Stream output)
    {
        output.Write(_buffer.WrittenSpan);
        _buffer.ResetWrittenCount();
    }

    public void WriteRecordHeader() => WriteHeader(s_recordColumns);

    public void WriteGroupHeader(IReadOnlyList<string> groupBy) => WriteHeader([.. groupBy, .. s_totalColumns]);

    private void WriteHeader(IEnumerable<string> columns)
    {
        if (format == ExportFormat.Csv)
        {
            _buffer.Write(Encoding.UTF8.GetBytes(string.Join(',', columns) + "\n"));
        }
    }

    /// <summary>One request's row.</summary>
    public void WriteRecord(in TraceRecord r)
    {
        Begin();
        Hex("id", r.Process, r.Sequence);
        Hex("request_id_hash", r.RequestIdHash, null);
        Text("start", Timestamp(r.StartUnixMicros));
        Text("workspace", names.NameOf(r.Workspace));
        Text("key", names.NameOf(r.Key));
        Text("route", names.NameOf(r.Route));
        Text("provider", names.NameOf(r.Provider));
        Text("model", names.NameOf(r.Model));
        Text("task", names.NameOf(r.Task));
        Text("operation", ((ApiOperation)r.Operation).MetricName());
        Number("status", r.Status);
        Bool("stream", (r.Flags & TraceRecord.StreamFlag) != 0);
        Bool("hedged", (r.Flags & TraceRecord.HedgedFlag) != 0);
        Text("outcome", OutcomeName((ProxyOutcome)r.Outcome));
        Number("prompt_tokens", r.PromptTokens);
        Number("completion_tokens", r.CompletionTokens);
        Number("cached_tokens", r.CachedTokens);
        Number("cache_write_tokens", r.CacheWriteTokens);
        Number("reasoning_tokens", r.ReasoningTokens);
        Number("cost_micros", r.CostMicros);
        Milliseconds("first_byte_ms", r.FirstByteMicros);
        Milliseconds("total_ms", r.TotalMicros);
        Number("overhead_us", r.OverheadMicros);
        Number("retries", r.Retries);
        Number("fallbacks", r.Fallbacks);
        End();
    }

    /// <summary>One group's row: its key values in <paramref name="groupBy"/>'s order, then its totals.</summary>
    public void WriteGroup(IReadOnlyList<string> groupBy, string[] key, UsageTotals totals)
    {
        Begin();
        for (var i = 0; i < groupBy.Count; i++)
        {
            Text(groupBy[i], key[i]);
        }
        Number("requests", totals.Requests);
        Number("prompt_tokens", totals.PromptTokens);
        Number("completion_tokens", totals.CompletionTokens);
        Number("cached_tokens", totals.CachedTokens);
        Number("cache_write_tokens", totals.CacheWriteTokens);
        Number("reasoning_tokens", totals.ReasoningTokens);
        Number("cost_micros", totals.CostMicros);
        Text("cost_usd", Usd(totals.CostMicros));
        End();
    }

    /// <summary>The value of a group field for a record.</summary>
    public string GroupValue(string field, in TraceRecord r) => field switch
    {
        "workspace" => names.NameOf(r.Workspace),
        "key" => names.NameOf(r.Key),
        "route" => names.NameOf(r.Route),
        "provider" => names.NameOf(r.Provider),
        "model" => names.NameOf(r.Model),
        "task" => names.NameOf(r.Task),
        "day" => DateTimeOffset.FromUnixTimeMilliseconds(r.StartUnixMicros / 1000).UtcDateTime.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture),
        _ => throw new ArgumentOutOfRangeException(nameof(field), field, "not a group field"),
    };

    /// <summary>Micro-dollars as dollars with six decimals, exactly.</summary>
    public static string Usd(long micros) =>
        (micros < 0 ? "-" : "") + (Math.Abs(micros) / 1_000_000).ToString(CultureInfo.InvariantCulture) + "."
        + (Math.Abs(micros) % 1_000_000).ToString("D6", CultureInfo.InvariantCulture);

    private static string Timestamp(long unixMicros) =>
        DateTimeOffset.UnixEpoch.AddTicks(unixMicros * 10).UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", CultureInfo.InvariantCulture);

    private static string OutcomeName(ProxyOutcome outcome) => outcome switch
    {
        ProxyOutcome.Completed => "completed",
        ProxyOutcome.UpstreamRefusedCredentials => "upstream_refused_credentials",
        ProxyOutcome.UpstreamTimeout => "upstream_timeout",
        ProxyOutcome.UpstreamCut => "upstream_cut",
        ProxyOutcome.ClientGone => "client_gone",
        _ => "unknown",
    };

    private void Begin()
    {
        _column = 0;
        if (format == ExportFormat.Jsonl)
        {
            _json.Reset(_buffer);
            _json.WriteStartObject();
        }
    }

    private void End()
    {
        if (format == ExportFormat.Jsonl)
        {
            _json.WriteEndObject();
            _json.Flush();
        }
        _buffer.Write("\n"u8);
    }

    private void Separate()
    {
        if (_column++ > 0)
        {
            _buffer.Write(","u8);
        }
    }

    private void Text(string name, string value)
    {
        if (format == ExportFormat.Jsonl)
        {
            _json.WriteString(name, value);
            return;
        }
        Separate();
        if (value.AsSpan().IndexOfAny(",\"\n\r") < 0)
        {
            Encoding.UTF8.GetBytes(value, _buffer);
            return;
        }
        _buffer.Write("\""u8);
        Encoding.UTF8.GetBytes(value.Replace("\"", "\"\""), _buffer);
        _buffer.Write("\""u8);
    }

    private void Number(string name, long value)
    {
        if (format == ExportFormat.Jsonl)
        {
            _json.WriteNumber(name, value);
            return;
        }
        Separate();
        Utf8Formatter.TryFormat(value, _buffer.GetSpan(20), out var written);
        _buffer.Advance(written);
    }

    private void Milliseconds(string name, uint micros)
    {
        if (format == ExportFormat.Jsonl)
        {
            _json.WriteNumber(name, micros / 1000.0);
            return;
        }
        Separate();
        Utf8Formatter.TryFormat(micros / 1000.0, _buffer.GetSpan(32), out var written);
        _buffer.Advance(written);
    }

    private void Bool(string name, bool value)
    {
        if (format == ExportFormat.Jsonl)
        {
            _json.WriteBoolean(name, value);
            return;
        }
        Separate();
        _buffer.Write(value ? "true"u8 : "false"u8);
    }

    private void Hex(string name, ulong high, ulong? low)
    {
        Span<char> hex = stackalloc char[32];
        high.TryFormat(hex, out _, "x16", CultureInfo.InvariantCulture);
        var length = 16;
        if (low is { } l)
        {
            l.TryFormat(hex[16..], out _, "x16", CultureInfo.InvariantCulture);
            length = 32;
        }
        if (format == ExportFormat.Jsonl)
        {
            _json.WriteString(name, hex[..length]);
            return;
        }
        Separate();
        Encoding.UTF8.GetBytes(hex[..length], _buffer);
    }
}
