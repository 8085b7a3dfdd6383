using System.Text.Json;

namespace OctoMesh.Edge.Metering;

/// <summary>
/// <c>octomesh export</c>: billing rows from the trace log. A range export writes the records (or group
/// totals) whose start falls in [from, to). A follow export (<see cref="FollowAsync"/>) is a named cursor
/// that appends each record to its output exactly once across runs and crashes.
/// </summary>
internal static class BillingExport
{
    /// <summary>Writes the records started in [<paramref name="from"/>, <paramref name="to"/>), one row each or totals per group. Returns the rows written.</summary>
    /// <summary>
    /// Writes the audit records (admin calls) started in [<paramref name="from"/>, <paramref name="to"/>): time, admin key
    /// name, action, workspace, subject (a key id, or empty), status. Returns the rows written.
    /// </summary>
    public static long ExportAudit(TraceReader reader, Stream output, ExportFormat format, DateTimeOffset? from, DateTimeOffset? to)
    {
        using var writer = new StreamWriter(output, new System.Text.UTF8Encoding(false), leaveOpen: true);
        if (format == ExportFormat.Csv)
        {
            writer.Write("time,admin,action,workspace,subject,status\n");
        }
        long rows = 0;
        foreach (var (_, _, record) in reader.Read(kind: TraceKind.Audit))
        {
            var time = DateTimeOffset.FromUnixTimeMilliseconds(record.StartUnixMicros / 1000);
            if (time < from || time >= to)
            {
                continue;
            }
            var admin = reader.Names.NameOf(record.Key);
            var action = ((AuditAction)record.Operation) switch
            {
                AuditAction.PurgeCache => "purge_cache",
                AuditAction.ReadUsage => "read_usage",
                AuditAction.ReadRoutes => "read_routes",
                AuditAction.ReadTenancy => "read_tenancy",
                AuditAction.CreateWorkspace => "create_workspace",
                AuditAction.UpdateWorkspace => "update_workspace",
                AuditAction.ForgetWorkspace => "forget_workspace",
                AuditAction.ExportWorkspace => "export_workspace",
                AuditAction.RotateContentKey => "rotate_content_key",
                AuditAction.CreateKey => "create_key",
                AuditAction.RevokeKey => "revoke_key",
                var other => $"#{(byte)other}",
            };
            var workspace = reader.Names.NameOf(record.Workspace);
            var subject = reader.Names.NameOf(record.Model);
            var stamp = time.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", System.Globalization.CultureInfo.InvariantCulture);
            if (format == ExportFormat.Csv)
            {
                writer.Write(string.Join(',', new[] { stamp, admin, action, workspace, subject }.Select(Csv)) + "," + record.Status + "\n");
            }
            else
            {
                var line = new System.Buffers.ArrayBufferWriter<byte>(128);
                using (var json = new System.Text.Json.Utf8JsonWriter(line, Wire.OpenAIError.WriterOptions))
                {
                    json.WriteStartObject();
                    json.WriteString("time", stamp);
                    json.WriteString("admin", admin);
                    json.WriteString("action", action);
                    json.WriteString("workspace", workspace);
                    json.WriteString("subject", subject);
                    json.WriteNumber("status", record.Status);
                    json.WriteEndObject();
                }
                writer.Write(System.Text.Encoding.UTF8.GetString(line.WrittenSpan) + "\n");
            }
            rows++;
        }
        writer.Flush();
        return rows;

        static string Csv(string field) => field.IndexOfAny([',', '"', '\n']) < 0 ? field : "\"" + field.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";
    }

    public static long Export(TraceReader reader, Stream output, ExportFormat format, DateTimeOffset? from, DateTimeOffset? to, IReadOnlyList<string> groupBy)
    {
        var report = new UsageReport(reader.Names, format);
        var records = StartedIn(reader, from, to);
        long rows = 0;
        if (groupBy.Count == 0)
        {
            report.WriteRecordHeader();
            foreach (var record in records)
            {
                report.WriteRecord(record);
                rows++;
                if (report.Pending > 60 * 1024)
                {
                    report.CopyTo(output);
                }
            }
        }
        else
        {
            report.WriteGroupHeader(groupBy);
            foreach (var (key, totals) in Group(report, records, groupBy))
            {
                report.WriteGroup(groupBy, key, totals);
                rows++;
            }
        }
        report.CopyTo(output);
        output.Flush();
        return rows;
    }

    /// <summary>The committed records whose start falls in [<paramref name="from"/>, <paramref name="to"/>); either end may be open.</summary>
    public static IEnumerable<TraceRecord> StartedIn(TraceReader reader, DateTimeOffset? from, DateTimeOffset? to)
    {
        var fromMicros = from?.ToUnixTimeMilliseconds() * 1000 ?? long.MinValue;
        var toMicros = to?.ToUnixTimeMilliseconds() * 1000 ?? long.MaxValue;
        return reader.Read().Select(r => r.Record).Where(r => r.StartUnixMicros >= fromMicros && r.StartUnixMicros < toMicros);
    }

    /// <summary>An ISO 8601 time (UTC unless it has an offset), or null for none; false when the text is not a time.</summary>
    public static bool TryParseTime(string? text, out DateTimeOffset? time)
    {
        time = null;
        if (string.IsNullOrEmpty(text))
        {
            return true;
        }
        if (DateTimeOffset.TryParse(text, System.Globalization.CultureInfo.InvariantCulture,
            System.Globalization.DateTimeStyles.AssumeUniversal | System.Globalization.DateTimeStyles.AdjustToUniversal, out var parsed))
        {
            time = parsed;
            return true;
        }
        return false;
    }

    /// <summary>Totals per distinct value of <paramref name="groupBy"/>'s fields, ordered by those values.</summary>
    public static IEnumerable<(string[] Key, UsageTotals Totals)> Group(UsageReport report, IEnumerable<TraceRecord> records, IReadOnlyList<string> groupBy)
    {
        var groups = new Dictionary<string, (string[] Key, UsageTotals Totals)>(StringComparer.Ordinal);
        foreach (var record in records)
        {
            var key = new string[groupBy.Count];
            for (var i = 0; i < key.Length; i++)
            {
                key[i] = report.GroupValue(groupBy[i], record);
            }
            var joined = string.Join('\u0001', key);
            if (!groups.TryGetValue(joined, out var group))
            {
                groups[joined] = group = (key, new UsageTotals());
            }
            group.Totals.Add(record);
        }
        return groups.OrderBy(g => g.Key, StringComparer.Ordinal).Select(g => g.Value);
    }

    /// <summary>
    /// Appends to <paramref name="outputPath"/> every record after cursor <paramref name="name"/>'s position, then
    /// moves the cursor, and repeats every <paramref name="poll"/> until cancelled (or once, when <paramref name="poll"/> is null).
    /// Exactly once: the output is flushed to disk before the cursor moves, and the cursor keeps the output's length, so
    /// rows written after the last cursor move (a crash between the two) are cut before the next run writes them again.
    /// Every row also carries the record's unique id, for a consumer reading the file as it grows. Returns rows written.
    /// </summary>
    public static async Task<long> FollowAsync(string directory, string name, string outputPath, ExportFormat format, TimeSpan? poll,
        TextWriter log, CancellationToken cancellationToken)
    {
        var cursorPath = CursorPath(directory, name);
        var cursor = ReadCursor(cursorPath);
        outputPath = Path.GetFullPath(outputPath);
        if (cursor.Output is { } previous && previous != outputPath)
        {
            throw new InvalidOperationException($"cursor '{name}' writes to '{previous}', not '{outputPath}': use that output, or another cursor name");
        }
        await using var output = new FileStream(outputPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.Read);
        if (output.Length < cursor.OutputLength)
        {
            throw new InvalidOperationException($"'{outputPath}' is shorter than cursor '{name}' left it ({output.Length} < {cursor.OutputLength} bytes): it was truncated or replaced");
        }
        if (output.Length > cursor.OutputLength)
        {
            log.WriteLine($"cutting {output.Length - cursor.OutputLength} bytes written after the last checkpoint of '{name}'; they are exported again");
            output.SetLength(cursor.OutputLength);
        }
        output.Seek(0, SeekOrigin.End);

        long total = 0;
        while (true)
        {
            using (var reader = TraceReader.Open(directory))
            {
                if (cursor.Address < reader.BeginAddress && cursor.Address > 0)
                {
                    log.WriteLine($"warning: records before address {reader.BeginAddress} were removed by retention before cursor '{name}' exported them");
                }
                var report = new UsageReport(reader.Names, format);
                if (output.Length == 0)
                {
                    report.WriteRecordHeader();
                }
                var next = cursor.Address;
                long rows = 0;
                foreach (var (_, after, record) in reader.Read(cursor.Address))
                {
                    report.WriteRecord(record);
                    next = after;
                    rows++;
                    if (report.Pending > 60 * 1024)
                    {
                        report.CopyTo(output);
                    }
                }
                report.CopyTo(output);
                if (next != cursor.Address || rows > 0)
                {
                    output.Flush(flushToDisk: true);
                    cursor = new Cursor(next, output.Length, outputPath);
                    WriteCursor(cursorPath, cursor);
                    total += rows;
                }
            }
            if (poll is not { } interval)
            {
                return total;
            }
            try
            {
                await Task.Delay(interval, cancellationToken);
            }
            catch (OperationCanceledException)
            {
                return total;
            }
        }
    }

    /// <summary>Where a follow cursor lives: beside the log, one small JSON file per name.</summary>
    public static string CursorPath(string directory, string name) => Path.Combine(directory, "exports", name + ".cursor.json");

    private sealed record Cursor(long Address, long OutputLength, string? Output);

    private static Cursor ReadCursor(string path)
    {
        if (!File.Exists(path))
        {
            return new Cursor(0, 0, null);
        }
        using var json = JsonDocument.Parse(File.ReadAllBytes(path));
        var root = json.RootElement;
        return new Cursor(root.GetProperty("address").GetInt64(), root.GetProperty("outputLength").GetInt64(), root.GetProperty("output").GetString());
    }

    /// <summary>Replaces the cursor file atomically: written beside it, flushed to disk, renamed over it.</summary>
    private static void WriteCursor(string path, Cursor cursor)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var temporary = path + ".tmp";
        using (var file = new FileStream(temporary, FileMode.Create, FileAccess.Write))
        {
            using (var json = new Utf8JsonWriter(file))
            {
                json.WriteStartObject();
                json.WriteNumber("address", cursor.Address);
                json.WriteNumber("outputLength", cursor.OutputLength);
                json.WriteString("output", cursor.Output);
                json.WriteEndObject();
            }
            file.Flush(flushToDisk: true);
        }
        File.Move(temporary, path, overwrite: true);
    }
}
