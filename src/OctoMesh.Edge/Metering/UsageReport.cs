using System.Buffers;
using System.Buffers.Text;
using System.Globalization;
using System.Text;
using System.Text.Json;
using OctoMesh.Edge.Wire;

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

    /// <summary>Column names, encoded once: each row writes them as they are.</summary>
    private static class Column
    {
        public static readonly JsonEncodedText Id = JsonEncodedText.Encode("id"), RequestIdHash = JsonEncodedText.Encode("request_id_hash"),
            Start = JsonEncodedText.Encode("start"), Workspace = JsonEncodedText.Encode("workspace"), Key = JsonEncodedText.Encode("key"),
            Route = JsonEncodedText.Encode("route"), Provider = JsonEncodedText.Encode("provider"), Model = JsonEncodedText.Encode("model"),
            Task = JsonEncodedText.Encode("task"), Operation = JsonEncodedText.Encode("operation"), Status = JsonEncodedText.Encode("status"),
            Stream = JsonEncodedText.Encode("stream"), Hedged = JsonEncodedText.Encode("hedged"), Outcome = JsonEncodedText.Encode("outcome"),
            PromptTokens = JsonEncodedText.Encode("prompt_tokens"), CompletionTokens = JsonEncodedText.Encode("completion_tokens"),
            CachedTokens = JsonEncodedText.Encode("cached_tokens"), CacheWriteTokens = JsonEncodedText.Encode("cache_write_tokens"),
            ReasoningTokens = JsonEncodedText.Encode("reasoning_tokens"), CostMicros = JsonEncodedText.Encode("cost_micros"),
            FirstByteMicros = JsonEncodedText.Encode("first_byte_us"), TotalMicros = JsonEncodedText.Encode("total_us"),
            OverheadMicros = JsonEncodedText.Encode("overhead_us"), Retries = JsonEncodedText.Encode("retries"), Fallbacks = JsonEncodedText.Encode("fallbacks"),
            Requests = JsonEncodedText.Encode("requests"), CostUsd = JsonEncodedText.Encode("cost_usd");
    }

    private static readonly JsonEncodedText[] s_recordColumns =
    [
        Column.Id, Column.RequestIdHash, Column.Start, Column.Workspace, Column.Key, Column.Route, Column.Provider, Column.Model, Column.Task,
        Column.Operation, Column.Status, Column.Stream, Column.Hedged, Column.Outcome, Column.PromptTokens, Column.CompletionTokens,
        Column.CachedTokens, Column.CacheWriteTokens, Column.ReasoningTokens, Column.CostMicros, Column.FirstByteMicros, Column.TotalMicros,
        Column.OverheadMicros, Column.Retries, Column.Fallbacks,
    ];

    private static readonly JsonEncodedText[] s_totalColumns =
    [
        Column.Requests, Column.PromptTokens, Column.CompletionTokens, Column.CachedTokens, Column.CacheWriteTokens, Column.ReasoningTokens,
        Column.CostMicros, Column.CostUsd,
    ];

    /// <summary>Operation and outcome values, by their byte in the record, as UTF-8.</summary>
    private static readonly byte[][] s_operations = Enum.GetValues<ApiOperation>().Select(o => Encoding.UTF8.GetBytes(o.MetricName())).ToArray();
    private static readonly byte[][] s_outcomes = Enum.GetValues<ProxyOutcome>().Select(o => Encoding.UTF8.GetBytes(OutcomeName(o))).ToArray();

    private readonly ArrayBufferWriter<byte> _buffer = new(64 * 1024);
    private readonly Utf8JsonWriter _json = new(Stream.Null);
    /// <summary>Each name id's text as this format writes it (CSV-quoted when needed, or JSON-escaped), made once.</summary>
    private readonly Dictionary<uint, byte[]> _csvNames = [];
    private readonly Dictionary<uint, JsonEncodedText> _jsonNames = [];
    private int _column;

    /// <summary>Bytes written and not yet taken by <see cref="CopyTo"/>.</summary>
    public int Pending => _buffer.WrittenCount;

    /// <summary>Moves the written bytes to <paramref name="output"/>.</summary>
    public void CopyTo(Stream output)
    {
        output.Write(_buffer.WrittenSpan);
        _buffer.ResetWrittenCount();
    }

    public void WriteRecordHeader() => WriteHeader(s_recordColumns.Select(c => c.Value));

    public void WriteGroupHeader(IReadOnlyList<string> groupBy) => WriteHeader([.. groupBy, .. s_totalColumns.Select(c => c.Value)]);

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
        Hex(Column.Id, r.Process, r.Sequence);
        Hex(Column.RequestIdHash, r.RequestIdHash, null);
        Timestamp(Column.Start, r.StartUnixMicros);
        Name(Column.Workspace, r.Workspace);
        Name(Column.Key, r.Key);
        Name(Column.Route, r.Route);
        Name(Column.Provider, r.Provider);
        Name(Column.Model, r.Model);
        Name(Column.Task, r.Task);
        Utf8(Column.Operation, r.Operation < s_operations.Length ? s_operations[r.Operation] : "unknown"u8);
        Number(Column.Status, r.Status);
        Bool(Column.Stream, (r.Flags & TraceRecord.StreamFlag) != 0);
        Bool(Column.Hedged, (r.Flags & TraceRecord.HedgedFlag) != 0);
        Utf8(Column.Outcome, r.Outcome < s_outcomes.Length ? s_outcomes[r.Outcome] : "unknown"u8);
        Number(Column.PromptTokens, r.PromptTokens);
        Number(Column.CompletionTokens, r.CompletionTokens);
        Number(Column.CachedTokens, r.CachedTokens);
        Number(Column.CacheWriteTokens, r.CacheWriteTokens);
        Number(Column.ReasoningTokens, r.ReasoningTokens);
        Number(Column.CostMicros, r.CostMicros);
        Number(Column.FirstByteMicros, r.FirstByteMicros);
        Number(Column.TotalMicros, r.TotalMicros);
        Number(Column.OverheadMicros, r.OverheadMicros);
        Number(Column.Retries, r.Retries);
        Number(Column.Fallbacks, r.Fallbacks);
        End();
    }

    /// <summary>One group's row: its key values in <paramref name="groupBy"/>'s order, then its totals.</summary>
    public void WriteGroup(IReadOnlyList<string> groupBy, string[] key, UsageTotals totals)
    {
        Begin();
        for (var i = 0; i < groupBy.Count; i++)
        {
            Text(JsonEncodedText.Encode(groupBy[i]), key[i]);
        }
        Number(Column.Requests, totals.Requests);
        Number(Column.PromptTokens, totals.PromptTokens);
        Number(Column.CompletionTokens, totals.CompletionTokens);
        Number(Column.CachedTokens, totals.CachedTokens);
        Number(Column.CacheWriteTokens, totals.CacheWriteTokens);
        Number(Column.ReasoningTokens, totals.ReasoningTokens);
        Number(Column.CostMicros, totals.CostMicros);
        Text(Column.CostUsd, Usd(totals.CostMicros));
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

    private void Name(JsonEncodedText column, uint id)
    {
        if (format == ExportFormat.Jsonl)
        {
            if (!_jsonNames.TryGetValue(id, out var encoded))
            {
                _jsonNames[id] = encoded = JsonEncodedText.Encode(names.NameOf(id));
            }
            _json.WriteString(column, encoded);
            return;
        }
        if (!_csvNames.TryGetValue(id, out var bytes))
        {
            var text = names.NameOf(id);
            _csvNames[id] = bytes = Encoding.UTF8.GetBytes(text.AsSpan().IndexOfAny(",\"\n\r") < 0 ? text : $"\"{text.Replace("\"", "\"\"")}\"");
        }
        Separate();
        _buffer.Write(bytes);
    }

    /// <summary>ISO 8601 in UTC with microseconds, <c>2026-11-20T00:00:00.000000Z</c>, written digit by digit (a format string costs more than the rest of the row).</summary>
    private void Timestamp(JsonEncodedText column, long unixMicros)
    {
        Span<byte> text = stackalloc byte[27];
        var time = DateTime.UnixEpoch.AddTicks(unixMicros * 10);
        Digits(text[..4], time.Year);
        text[4] = (byte)'-';
        Digits(text.Slice(5, 2), time.Month);
        text[7] = (byte)'-';
        Digits(text.Slice(8, 2), time.Day);
        text[10] = (byte)'T';
        Digits(text.Slice(11, 2), time.Hour);
        text[13] = (byte)':';
        Digits(text.Slice(14, 2), time.Minute);
        text[16] = (byte)':';
        Digits(text.Slice(17, 2), time.Second);
        text[19] = (byte)'.';
        Digits(text.Slice(20, 6), (int)(time.Ticks % TimeSpan.TicksPerSecond / 10));
        text[26] = (byte)'Z';
        if (format == ExportFormat.Jsonl)
        {
            _json.WriteString(column, text);
            return;
        }
        Separate();
        _buffer.Write(text);
    }

    private static void Digits(Span<byte> destination, int value)
    {
        for (var i = destination.Length - 1; i >= 0; i--)
        {
            destination[i] = (byte)('0' + value % 10);
            value /= 10;
        }
    }

    private void Utf8(JsonEncodedText column, ReadOnlySpan<byte> value)
    {
        if (format == ExportFormat.Jsonl)
        {
            _json.WriteString(column, value);
            return;
        }
        Separate();
        _buffer.Write(value);
    }

    private void Text(JsonEncodedText name, string value)
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

    private void Number(JsonEncodedText name, long value)
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

    private void Bool(JsonEncodedText name, bool value)
    {
        if (format == ExportFormat.Jsonl)
        {
            _json.WriteBoolean(name, value);
            return;
        }
        Separate();
        _buffer.Write(value ? "true"u8 : "false"u8);
    }

    private void Hex(JsonEncodedText name, ulong high, ulong? low)
    {
        Span<byte> hex = stackalloc byte[32];
        Utf8Formatter.TryFormat(high, hex, out _, s_hex16);
        var length = 16;
        if (low is { } l)
        {
            Utf8Formatter.TryFormat(l, hex[16..], out _, s_hex16);
            length = 32;
        }
        if (format == ExportFormat.Jsonl)
        {
            _json.WriteString(name, hex[..length]);
            return;
        }
        Separate();
        _buffer.Write(hex[..length]);
    }

    private static readonly StandardFormat s_hex16 = new('x', 16);
}
